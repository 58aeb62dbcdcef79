// A benchmark task as data: one JSON file under eval/tasks/ says where the records come from, how one record
// becomes a conversation (template, choices, few-shot turns), how the model is asked (generation settings, or
// log-likelihood of each choice letter), how its answer is found (extraction rules) and scored (metric), and how
// scores are grouped. Adding a benchmark means writing such a file; docs/tasks.md-style documentation lives in the
// file's own "description", "protocol" and "data.source" fields. The schema is documented in eval/tasks/README.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/dataset.h"
#include "prompt/request.h"

namespace g4ref {

// One scored unit: a record of the dataset, asked once (REPEAT counts from 0 for tasks asked k times).
struct Sample {
  std::string id;                 // stable: the record's id, "#r" + repeat when the task repeats
  std::string doc_id;
  int repeat = 0;
  size_t doc_index = 0;           // position in the dataset after --limit
  nlohmann::ordered_json doc;     // the record, with the fields the task adds (e.g. "locale")
  std::vector<std::string> choices;  // presented order (after any shuffle)
  std::vector<int> permutation;   // presented position → original choice index (identity when not shuffled)
  std::string target;             // the expected answer: a letter, an integer, a string
  std::vector<std::string> targets;  // every accepted answer when the target field is a list (ANLS); else {target}
  // The media of the record, in the order they go into the user turn (before its text, as the model card
  // advises): (type, path) with type image | audio | video and the path resolved against the data file's folder.
  std::vector<std::pair<std::string, std::string>> media;
  std::vector<std::pair<std::string, std::string>> groups;  // (field, value) for each group_by field
};

struct Task {
  std::string name;
  std::string path;               // the task file
  std::string file_sha256;        // of its bytes
  nlohmann::ordered_json spec;    // the file's JSON
  std::string mode;               // "generate" | "loglikelihood"
  std::string metric;             // passed to the scorer
  int repeats = 1;
  std::string letters;            // choice labels, one character each
  bool multiple_choice() const { return !letters.empty(); }
  bool has_media() const { return spec.contains("media"); }
};

// How the task's media are prepared: its "media_options" (image_tokens, max_audio_seconds, video_frames,
// video_frame_tokens), IMAGE_TOKENS (> 0: the --image-tokens option) in place of the task's budget. The
// budget must be one of the model's (spec §3.1: 70, 140, 280, 560, 1120).
MediaOptions task_media_options(const Task& task, int image_tokens = 0);
// The same as recorded in run.json and results.json (so a resume or a merge with another budget is refused).
nlohmann::ordered_json media_options_json(const MediaOptions& m);
// And back (WHERE names the run file in errors).
MediaOptions media_options_from_json(const nlohmann::ordered_json& j, const std::string& where);

// Reads and checks a task file (errors name the file and the field).
Task load_task(const std::string& path);
// eval/tasks/NAME.json in TASKS_DIR.
std::string task_path_for(const std::string& name, const std::string& tasks_dir);

// The data files a task reads: the task's own (relative to the task file), or OVERRIDE (the --data option) for
// the first one.
struct DataFile {
  std::string path;
  std::string format;
  ReadOptions read;               // "records", "columns", "quoting" (see harness/dataset.h)
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();  // added to every record
  std::string tag;                // prefix of row-number ids ("" : the file's stem)
};
std::vector<DataFile> task_data_files(const Task& task, const std::string& override_path);

// Every sample of the task, in dataset order then repeat order; LIMIT > 0 keeps the first LIMIT records.
// SEED feeds the per-question choice permutation where the task shuffles (a function of the seed and the
// record's id only, never of process state or of the shard).
std::vector<Sample> build_samples(const Task& task, const std::vector<DataFile>& files, int limit, uint64_t seed,
                                  std::vector<std::string>* data_digests = nullptr);

// The conversation that asks SAMPLE (system prompt, few-shot turns, the question).
Conversation build_conversation(const Task& task, const Sample& sample, bool thinking,
                                const std::vector<nlohmann::ordered_json>& fewshot_pool);
// The few-shot records of the task ("fewshot.file"), or none.
std::vector<nlohmann::ordered_json> load_fewshot_pool(const Task& task);

// "{{name}}" placeholders replaced by the record's fields (strings as they are, numbers and lists in JSON form)
// and by VARS; an unknown name is an error naming WHERE.
std::string fill_template(const std::string& tmpl, const nlohmann::ordered_json& doc,
                          const nlohmann::ordered_json& vars, const std::string& where);

// The stable 64-bit FNV-1a hash the shard split and the per-sample seeds use.
uint64_t stable_hash(const std::string& s);
// Shard of a sample id among COUNT shards.
int shard_of(const std::string& sample_id, int count);

// The model's answer text without its thought channel (a channel never closed: everything from its start).
std::string strip_thinking(const std::string& text);

}  // namespace g4ref
