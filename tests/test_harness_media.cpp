// The multimodal benchmarks of the harness: the published layouts read as published (JSON with an image folder,
// header-less unquoted TSV with audio files, converted Parquet with Python list literals), the scorers through the
// task path on the metric test vectors (claims-and-evals §4), every bundled task end to end on the reference and on
// llama.cpp with the same media tokens and an audit that agrees, an endpoint that is refused when it counts other
// media tokens, and a media run killed with SIGKILL that resumes with nothing lost.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "backends/factory.h"
#include "harness/dataset.h"
#include "harness/runner.h"
#include "harness/sample_metrics.h"
#include "harness/task.h"
#include "preprocess/audio.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::string task_file(const std::string& name) { return std::string(G4REF_SOURCE_DIR) + "/eval/tasks/" + name + ".json"; }

std::vector<Sample> samples_of(const std::string& name, int limit = 0) {
  const Task t = load_task(task_file(name));
  return build_samples(t, task_data_files(t, ""), limit, 0);
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// ---- readers ----------------------------------------------------------------------------------------------------

TEST(MediaReaders, JsonDocumentWithItsRecordsUnderAKey) {
  const std::string text = R"({"dataset_name": "docvqa", "data": [{"questionId": 1, "answers": ["a", "b"]}, {"questionId": 2}]})";
  ReadOptions o;
  o.records = "data";
  const auto rs = parse_json_records(text, "val.json", o);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0]["questionId"], 1);
  EXPECT_EQ(rs[0]["answers"][1], "b");
  testing::expect_error([&] { parse_json_records(text, "val.json", {}); }, "val.json", "name its key with \"records\"");
  o.records = "rows";
  testing::expect_error([&] { parse_json_records(text, "val.json", o); }, "val.json", "under \"rows\"");
  o.records = "data";
  testing::expect_error([&] { parse_json_records(R"({"data": [1]})", "val.json", o); }, "val.json", "record 1 is a number");
  testing::expect_error([&] { parse_json_records("{\"data\": [", "val.json", o); }, "val.json", "not valid JSON");
}

TEST(MediaReaders, HeaderlessUnquotedTsvKeepsBareQuotes) {
  // FLEURS' TSVs have no header and transcripts with bare double quotes, read verbatim (pandas QUOTE_NONE).
  const std::string text = "7\ta.wav\t\"Hello,\" he said.\thello he said\tx\t16000\tMALE\n";
  ReadOptions o;
  o.columns = {"id", "file_name", "raw_transcription", "transcription", "chars", "num_samples", "gender"};
  o.quoting = false;
  const auto rs = parse_delimited(text, '\t', "test.tsv", o);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0]["raw_transcription"], "\"Hello,\" he said.");
  EXPECT_EQ(rs[0]["num_samples"], "16000");
  // With quoting, the same line is an error (text after a closing quote), which is why the task turns it off.
  ReadOptions quoted = o;
  quoted.quoting = true;
  testing::expect_error([&] { parse_delimited(text, '\t', "test.tsv", quoted); }, "test.tsv", "after a closing quote");
  testing::expect_error([&] { parse_delimited("1\t2\n", '\t', "test.tsv", o); }, "test.tsv", "line 1: 2 fields, expected 7 (the task's data columns)");
}

TEST(MediaReaders, BundledFleursRowsNameTheirClipsAndTheirLength) {
  // num_samples is FLEURS' own column; the decoder counts the clip's frames independently.
  const std::vector<Sample> ss = samples_of("fleurs");
  ASSERT_EQ(ss.size(), 15u);  // 5 languages × 3
  for (const Sample& s : ss) {
    ASSERT_EQ(s.media.size(), 1u) << s.id;
    EXPECT_EQ(s.media[0].first, "audio");
    ASSERT_TRUE(fs::exists(s.media[0].second)) << s.media[0].second;
    const DecodedAudio a = decode_audio(s.media[0].second);
    EXPECT_EQ(a.sample_rate, 16000) << s.id;
    EXPECT_EQ(std::to_string(a.frames), s.doc["num_samples"].get<std::string>()) << s.id;
  }
  EXPECT_EQ(ss[0].groups[0].second, "en_us");
  EXPECT_EQ(ss[14].groups[0].second, "ja_jp");
}

TEST(MediaReaders, MmmuProOptionsArePythonListLiterals) {
  const std::vector<Sample> ss = samples_of("mmmu_pro_standard");
  ASSERT_EQ(ss.size(), 6u);
  bool two_images = false, apostrophe = false;
  for (const Sample& s : ss) {
    EXPECT_EQ(s.choices.size(), 10u) << s.id;
    for (const auto& [type, path] : s.media) EXPECT_TRUE(fs::exists(path)) << path;
    two_images |= s.media.size() == 2;
    for (const std::string& c : s.choices) apostrophe |= c == "it's a triangle";
  }
  EXPECT_TRUE(two_images) << "the bundled set has an item with image_1 and image_2";
  EXPECT_TRUE(apostrophe) << "repr() writes a choice with an apostrophe in double quotes";
  // A record whose options are neither JSON nor a Python list of strings names the record and the field.
  testing::TempDir d("mmmu");
  const std::string data = d / "standard_10.jsonl";
  write_text(data, R"({"id": "x", "question": "q", "options": "['a', 'b'", "image_1": "x.png", "answer": "A", "subject": "s"})" "\n");
  const Task t = load_task(task_file("mmmu_pro_standard"));
  testing::expect_error([&] { build_samples(t, task_data_files(t, data), 0, 0); }, data + ": record 1",
                        "neither a JSON list nor a Python list of strings (expected , or ] at offset 9)");
}

TEST(MediaReaders, ParquetWithImageStructsThroughTheConverter) {
  // MMMU-Pro's published form: Parquet with Hugging Face Image structs {bytes, path}. The converter writes the
  // bytes as files; the task reads the converted file as --data and finds each image byte for byte.
  testing::TempDir d("parquet");
  const std::string png = std::string(G4REF_SOURCE_DIR) + "/datasets/bundled/mmmu_pro/standard_10_media/0_image_1_0.png";
  std::string out;
  ASSERT_EQ(testing::run_command("node '" + std::string(G4REF_SOURCE_DIR) + "/datasets/convert/media_roundtrip_test.mjs' '" + png + "' '" +
                                     d.str() + "' 2>&1",
                                 &out),
            0)
      << out;
  const Task t = load_task(task_file("mmmu_pro_standard"));
  const std::vector<Sample> ss = build_samples(t, task_data_files(t, d / "standard_10.jsonl"), 0, 0);
  ASSERT_EQ(ss.size(), 2u);
  EXPECT_EQ(ss[0].choices, (std::vector<std::string>{"a square", "it's a circle", "a line"}));
  EXPECT_EQ(ss[1].target, "C");
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  for (const Sample& s : ss) {
    ASSERT_EQ(s.media.size(), 1u) << "image_2 is a null struct: no second image";
    EXPECT_EQ(bytes(s.media[0].second), bytes(png)) << s.media[0].second;
  }
}

TEST(MediaReaders, PythonListLiteralEscapes) {
  // The choices field parses as Python's ast.literal_eval would read repr()'s output.
  testing::TempDir d("pylist");
  const std::string data = d / "standard_10.jsonl";
  write_text(data, R"({"id": "x", "question": "q", "options": "['a\\'b', \"it's\", 'tab\\there', '\\xe9t\\u00e9', 'back\\\\slash',]", "image_1": "x.png", "answer": "B", "subject": "s"})" "\n");
  const Task t = load_task(task_file("mmmu_pro_standard"));
  const std::vector<Sample> ss = build_samples(t, task_data_files(t, data), 0, 0);
  ASSERT_EQ(ss.size(), 1u);
  const std::vector<std::string> want = {"a'b", "it's", "tab\there", "\xC3\xA9t\xC3\xA9", "back\\slash"};
  EXPECT_EQ(ss[0].choices, want);
  EXPECT_EQ(ss[0].target, "B");
  EXPECT_EQ(ss[0].media[0].second, (fs::path(d.str()) / "x.png").string());
}

TEST(MediaReaders, LayoutsOfEveryBundledTask) {
  struct Want {
    const char* task;
    size_t samples;
    const char* type;
  };
  for (const Want& w : {Want{"docvqa", 8, "image"}, Want{"infographicvqa", 6, "image"}, Want{"mmmu_pro_vision", 6, "image"},
                        Want{"math_vision", 6, "image"}, Want{"covost2", 9, "audio"}, Want{"video_qa", 4, "video"}}) {
    const std::vector<Sample> ss = samples_of(w.task);
    EXPECT_EQ(ss.size(), w.samples) << w.task;
    for (const Sample& s : ss) {
      ASSERT_FALSE(s.media.empty()) << w.task << " " << s.id;
      EXPECT_EQ(s.media[0].first, w.type) << w.task;
      EXPECT_TRUE(fs::exists(s.media[0].second)) << w.task << ": " << s.media[0].second;
    }
  }
  // DocVQA: every accepted answer is a target; InfographicVQA: image_local_name inside infographicsvqa_images/.
  const std::vector<Sample> doc = samples_of("docvqa");
  EXPECT_EQ(doc[0].targets, (std::vector<std::string>{"INV-20417", "INV 20417"}));
  const std::vector<Sample> info = samples_of("infographicvqa");
  EXPECT_EQ(fs::path(info[0].media[0].second).parent_path().filename(), "infographicsvqa_images");
  // MATH-Vision mixes multiple choice (5 letters) and free-form (the value is the target).
  int mc = 0, free_form = 0;
  for (const Sample& s : samples_of("math_vision")) {
    if (s.choices.empty()) {
      ++free_form;
      EXPECT_NE(s.target.find_first_of("0123456789"), std::string::npos) << s.id;
    } else {
      ++mc;
      EXPECT_EQ(s.choices.size(), 5u);
      EXPECT_EQ(s.target.size(), 1u);
    }
  }
  EXPECT_EQ(mc, 3);
  EXPECT_EQ(free_form, 3);
  // MRCR: the record's own conversation; the answer is the target.
  const Task mrcr = load_task(task_file("mrcr_8needle"));
  const std::vector<Sample> ms = build_samples(mrcr, task_data_files(mrcr, ""), 0, 0);
  ASSERT_EQ(ms.size(), 3u);
  const Conversation c = build_conversation(mrcr, ms[0], false, {});
  EXPECT_GT(c.messages.size(), 16u);  // the preamble, 8 needles and their distractors as turns, the question
  EXPECT_EQ(c.messages.back()["role"], "user");
  EXPECT_EQ(ms[0].target.rfind(ms[0].doc["random_string_to_prepend"].get<std::string>(), 0), 0u);
}

TEST(MediaReaders, DataRootOverrideFindsTheReleaseLayout) {
  // --data ROOT for FLEURS: ROOT/<lang>/test.tsv with ROOT/<lang>/audio/test/. A root lacking a language names it.
  testing::TempDir d("root");
  const fs::path bundled = fs::path(G4REF_SOURCE_DIR) / "datasets/bundled/fleurs";
  fs::copy(bundled / "en_us", fs::path(d.str()) / "en_us", fs::copy_options::recursive);
  const Task t = load_task(task_file("fleurs"));
  testing::expect_error([&] { task_data_files(t, d.str()); }, "--data", "has no de_de/test.tsv");
  for (const char* l : {"de_de", "fr_fr", "es_419", "ja_jp"}) fs::copy(bundled / l, fs::path(d.str()) / l, fs::copy_options::recursive);
  const std::vector<Sample> ss = build_samples(t, task_data_files(t, d.str()), 0, 0);
  ASSERT_EQ(ss.size(), 15u);
  EXPECT_EQ(ss[0].media[0].second.rfind(d.str(), 0), 0u) << "the clips come from the given root: " << ss[0].media[0].second;
}

TEST(MediaReaders, TaskMediaSettingsAreChecked) {
  testing::TempDir d("mediaopts");
  std::ifstream in(task_file("docvqa"));
  ojson spec = ojson::parse(in);
  spec["data"]["files"][0]["path"] = (fs::path(G4REF_SOURCE_DIR) / "datasets/bundled/docvqa/val_v1.0.json").string();
  auto with = [&](const std::function<void(ojson&)>& edit) {
    ojson s = spec;
    edit(s);
    const std::string p = d / "t.json";
    write_text(p, s.dump());
    return p;
  };
  const std::string bad_budget = with([](ojson& s) { s["media_options"]["image_tokens"] = 300; });
  testing::expect_error([&] { load_task(bad_budget); }, bad_budget + ": media_options.image_tokens", "300 is not one of the model's image budgets");
  const std::string unknown = with([](ojson& s) { s["media_options"]["frames"] = 8; });
  testing::expect_error([&] { load_task(unknown); }, unknown + ": media_options", "unknown field \"frames\"");
  const std::string bad_type = with([](ojson& s) { s["media"][0]["type"] = "picture"; });
  testing::expect_error([&] { load_task(bad_type); }, bad_type + ": media", "must be image, audio or video");
  const std::string missing = with([](ojson& s) { s["media"][0]["field"] = "page"; });
  const Task t = load_task(missing);
  testing::expect_error([&] { build_samples(t, task_data_files(t, ""), 0, 0); }, t.spec["data"]["files"][0]["path"].get<std::string>() + ": record 1",
                        "missing media field \"page\"");
  EXPECT_EQ(task_media_options(load_task(task_file("docvqa")), 0).image_tokens, 1120);
  EXPECT_EQ(task_media_options(load_task(task_file("docvqa")), 280).image_tokens, 280);
  testing::expect_error([&] { task_media_options(load_task(task_file("docvqa")), 100); }, "--image-tokens", "not one of");
}

// ---- scorers through the task path, on the published test vectors ---------------------------------------------

Sample sample_with(const std::string& target, ojson doc = ojson::object()) {
  Sample s;
  s.id = s.doc_id = "s";
  s.target = target;
  s.targets = {target};
  s.doc = std::move(doc);
  return s;
}

Task task_with(const std::string& metric, ojson extra) {
  Task t;
  t.name = "t";
  t.path = "t.json";
  t.metric = metric;
  t.mode = "generate";
  t.spec = {{"metric", metric}};
  for (auto it = extra.begin(); it != extra.end(); ++it) t.spec[it.key()] = it.value();
  return t;
}

double corpus(const Task& t, const std::vector<std::pair<std::string, Sample>>& pairs) {
  std::vector<ojson> recs;
  for (const auto& [out, s] : pairs) recs.push_back({{"stats", score_sample(t, s, out).stats}});
  std::vector<const ojson*> ptrs;
  for (const ojson& r : recs) ptrs.push_back(&r);
  return corpus_value(t.metric, t.spec, ptrs);
}

TEST(MediaScoring, PooledWordErrorRateIsJiwersOnItsVectors) {
  // §4.1: ["i", "am i good"] against ["i am", "i good"] pools to WER 0.5; ["hello world", ""] / ["hello world",
  // "done"] to 1/2 (one insertion over two reference words). Raw transcripts (normalizer none).
  const Task t = task_with("asr_error_rate", {{"scoring", {{"language_field", "lang"}, {"normalizer", "none"}}}});
  const ojson en = {{"lang", "en_us"}};
  EXPECT_DOUBLE_EQ(corpus(t, {{"i am", sample_with("i", en)}, {"i good", sample_with("am i good", en)}}), 0.5);
  EXPECT_DOUBLE_EQ(corpus(t, {{"hello world", sample_with("hello world", en)}, {"done", sample_with("", en)}}), 0.5);
  EXPECT_DOUBLE_EQ(corpus(t, {{"X X Y Y", sample_with("X", en)}}), 3.0);
  EXPECT_DOUBLE_EQ(corpus(t, {{"X Z", sample_with("X Y X", en)}}), 2.0 / 3.0);
  // Per sample: the sentence value; the record keeps the counts that pool.
  const SampleScore s = score_sample(t, sample_with("This is a test", en), "This test");
  EXPECT_DOUBLE_EQ(s.score, 0.5);
  EXPECT_EQ(s.stats["errors"], 2);
  EXPECT_EQ(s.stats["reference_length"], 4);
  EXPECT_EQ(s.stats["deletions"], 2);
}

TEST(MediaScoring, FleursNormalizationAndCharacterLanguages) {
  const Task t = task_with("asr_error_rate", {{"scoring", {{"language_field", "lang"}, {"english", {"en_us"}},
                                                           {"characters", {"ja_jp"}}, {"normalizer", "lmms_eval"}}}});
  // Whisper's English normalizer: case, punctuation and "nine" → "9" do not count as errors.
  EXPECT_DOUBLE_EQ(corpus(t, {{"In Berlin, the small museum opens at 9.", sample_with("in berlin the small museum opens at nine", {{"lang", "en_us"}})}}), 0.0);
  // The basic normalizer elsewhere: punctuation becomes space, case folds; a special tag the model wrote is dropped.
  EXPECT_DOUBLE_EQ(corpus(t, {{"Guten Tag, Welt!<turn|>", sample_with("guten tag welt", {{"lang", "de_de"}})}}), 0.0);
  // Characters without spaces (derived by hand): です → でした is one substitution and one insertion over 5.
  const ojson ja = {{"lang", "ja_jp"}};
  EXPECT_DOUBLE_EQ(corpus(t, {{"日本語 でした", sample_with("日本語です", ja)}}), 2.0 / 5.0);
  EXPECT_EQ(score_sample(t, sample_with("日本語です", ja), "x").stats["unit"], "characters");
  // jiwer's CER vector (§4.2) counts spaces: "This is a test" vs "This test" is 5/14 there; with FLEURS' character
  // scoring (no spaces) "Thisisatest" loses "isa": 3/11.
  const Task raw = task_with("asr_error_rate", {{"scoring", {{"language_field", "lang"}, {"characters", {"ja_jp"}}, {"normalizer", "none"}}}});
  EXPECT_DOUBLE_EQ(corpus(raw, {{"This test", sample_with("This is a test", ja)}}), 3.0 / 11.0);
}

TEST(MediaScoring, CovostCorpusBleuOnSacrebleusVectorAfterTheLabel) {
  // §4.3: the dog/man hypotheses against the first reference stream give 45.0675 (counts [12, 6, 4, 3]).
  const Task t = task_with("bleu", {{"extract", {{"after_label", "English:"}}}, {"scoring", {{"tokenize", "13a"}}}});
  const std::vector<std::pair<std::string, Sample>> pairs = {
      {"Der Hund biss den Mann.\nEnglish: The dog bit the man.", sample_with("The dog bit the man.")},
      {"Es war nicht überraschend.\nEnglish: It wasn't surprising.", sample_with("It was not unexpected.")},
      {"English: The man had just bitten him.", sample_with("The man bit him first.")}};
  EXPECT_NEAR(corpus(t, pairs), 45.0675, 5e-5);
  std::vector<ojson> recs;
  for (const auto& [out, s] : pairs) recs.push_back({{"stats", score_sample(t, s, out).stats}});
  std::vector<const ojson*> ptrs;
  for (const ojson& r : recs) ptrs.push_back(&r);
  std::string signature;
  corpus_value("bleu", t.spec, ptrs, &signature);
  EXPECT_EQ(signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
  // No label: unparsed, an empty translation.
  const SampleScore none = score_sample(t, sample_with("The dog bit the man."), "The dog bit the man.");
  EXPECT_FALSE(none.extraction.parsed);
  EXPECT_EQ(none.stats["hypothesis"], "");
  EXPECT_EQ(none.score, 0.0);
}

TEST(MediaScoring, AnlsMrcrAndMathVisionOnTheirVectors) {
  // §4.4: ("Hello", "World") vs "Wolrd" → 0.6; lmms-eval's raw-length denominator: "acme corp" vs " acme  corq " →
  // 0.916667; NL = 0.5 exactly scores 0.5 there.
  const Task anls = task_with("anls", {});
  Sample two = sample_with("Hello");
  two.targets = {"Hello", "World"};
  EXPECT_NEAR(score_sample(anls, two, "Wolrd").score, 0.6, 1e-12);
  EXPECT_NEAR(score_sample(anls, sample_with("acme corp"), " acme  corq ").score, 0.916667, 1e-6);
  EXPECT_DOUBLE_EQ(score_sample(anls, sample_with("abcd"), "ab").score, 0.5);
  // MRCR: no prefix → 0; with it, difflib's ratio of the rest ("abcd" vs "abce": 2·3/8).
  const Task mrcr = task_with("mrcr", {});
  const ojson doc = {{"random_string_to_prepend", "Qx7"}};
  EXPECT_EQ(score_sample(mrcr, sample_with("Qx7abcd", doc), "abcd").score, 0.0);
  EXPECT_DOUBLE_EQ(score_sample(mrcr, sample_with("Qx7abcd", doc), "Qx7abce").score, 0.75);
  EXPECT_DOUBLE_EQ(score_sample(mrcr, sample_with("Qx7abcd", doc), "Qx7abcd").score, 1.0);
  // MATH-Vision: the box against the letter, the correct option's value, or the value (numbers, fractions).
  Task mv = task_with("math_vision", {});
  mv.letters = "ABCDE";
  Sample mc = sample_with("C");
  mc.choices = {"3", "4", "10", "6", "7"};
  EXPECT_EQ(score_sample(mv, mc, "so \\boxed{C}").score, 1.0);
  EXPECT_EQ(score_sample(mv, mc, "\\boxed{(c)}").score, 1.0);
  EXPECT_EQ(score_sample(mv, mc, "x = \\boxed{10}").score, 1.0);
  EXPECT_EQ(score_sample(mv, mc, "\\boxed{B}").score, 0.0);
  EXPECT_EQ(score_sample(mv, sample_with("0.5"), "\\boxed{\\frac{1}{2}}").score, 1.0);
  EXPECT_EQ(score_sample(mv, sample_with("30"), "\\boxed{30^\\circ}").score, 1.0);
  EXPECT_EQ(score_sample(mv, sample_with("8"), "\\boxed{7}").score, 0.0);
  const SampleScore unboxed = score_sample(mv, sample_with("8"), "8");
  EXPECT_FALSE(unboxed.extraction.parsed);
  EXPECT_EQ(unboxed.score, 0.0);
}

// ---- end to end ------------------------------------------------------------------------------------------------

nlohmann::json run_cli(const std::string& args, int* rc) {
  std::string out;
  *rc = testing::run_command(std::string(G4REF_CLI) + " " + args + " --quiet --json 2>&1", &out);
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) ADD_FAILURE() << "not JSON (rc " << *rc << "): " << out.substr(0, 2000);
  return j;
}

std::vector<ojson> records_of(const std::string& dir) {
  int64_t dropped = 0;
  return read_sample_log((fs::path(dir) / "samples.jsonl").string(), false, &dropped);
}

// Every bundled multimodal task on the reference and on llama.cpp (the same weights through its adapter and mtmd):
// the same prompt ids and media tokens per sample, and the reference's audit of the llama.cpp run agrees.
TEST(MediaHarness, EveryTaskOnTheReferenceAndOnLlamaCppAuditedByTheReference) {
  const std::string model = testing::tiny_checkpoint();
  testing::TempDir d("mm_e2e");
  struct Case {
    const char* task;
    int limit;
  };
  for (const Case& c : {Case{"docvqa", 2}, Case{"infographicvqa", 1}, Case{"mmmu_pro_standard", 2}, Case{"mmmu_pro_vision", 1},
                        Case{"math_vision", 2}, Case{"fleurs", 3}, Case{"covost2", 2}, Case{"video_qa", 1}, Case{"mrcr_8needle", 1}}) {
    SCOPED_TRACE(c.task);
    const std::string common = std::string("eval run --task ") + c.task + " --model " + model + " --precision f32 --max-new-tokens 3 --limit " +
                               std::to_string(c.limit) + " --image-tokens 70";
    int rc = 0;
    const nlohmann::json ref = run_cli(common + " --out " + (d / (std::string(c.task) + "_ref")), &rc);
    ASSERT_EQ(rc, 0) << ref.dump();
    const nlohmann::json ll = run_cli(common + " --backend llamacpp --out " + (d / (std::string(c.task) + "_ll")), &rc);
    ASSERT_EQ(rc, 0) << ll.dump();
    const nlohmann::json& rt = ref["results"]["tasks"][c.task];
    EXPECT_EQ(rt["n"], ll["results"]["tasks"][c.task]["n"]);
    const bool media = std::string(c.task) != "mrcr_8needle";
    if (media) {
      EXPECT_EQ(ref["results"]["settings"]["media"]["image_tokens"], 70);
    }
    const std::vector<ojson> a = records_of(d / (std::string(c.task) + "_ref")), b = records_of(d / (std::string(c.task) + "_ll"));
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i]["prompt_ids_sha256"], b[i]["prompt_ids_sha256"]) << a[i]["id"];
      EXPECT_EQ(a[i].value("media_tokens", ojson()), b[i].value("media_tokens", ojson())) << a[i]["id"];
      if (media) {
        const ojson& mt = a[i]["media_tokens"];
        EXPECT_GT(mt["image"].get<int>() + mt["video"].get<int>() + mt["audio"].get<int>(), 0) << a[i]["id"];
      }
    }
    std::string out;
    ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " eval audit " + (d / (std::string(c.task) + "_ll")) + " --model " + model +
                                       " --precision f32 --json 2>&1",
                                   &out),
              0)
        << out;
    const nlohmann::json audit = nlohmann::json::parse(out);
    EXPECT_EQ(audit["same_prompt_ids"], audit["audited"]);
    // Greedy tokens of a random-weight model can sit on near-ties between two f32 implementations; most must agree.
    EXPECT_GE(audit["agreement_rate"].get<double>(), 0.75) << out;
    std::cout << "[ media ] " << c.task << ": " << rt["n"] << " samples, tokens " << a[0].value("media_tokens", ojson()).dump()
              << ", audit agreement " << audit["agreement_rate"] << "\n";
  }
}

TEST(MediaHarness, LlamaCppRefusesAPromptItsMultimodalLibraryLaysOutOtherwise) {
  // This llama.cpp's mtmd gives a Gemma 4 image at most 266 tokens whatever the budget; at 560 the reference's
  // prompt holds 540 image tokens, so the run stops with both layouts named instead of generating from another one.
  const std::string model = testing::tiny_checkpoint();
  testing::TempDir d("mm_ll_budget");
  std::string out;
  const int rc = testing::run_command(std::string(G4REF_CLI) + " eval run --task docvqa --backend llamacpp --model " + model +
                                          " --precision f32 --max-new-tokens 2 --limit 1 --image-tokens 560 --quiet --out " + (d / "run") +
                                          " 2>&1",
                                      &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("llama.cpp laid the prompt out in"), std::string::npos) << out;
  EXPECT_NE(out.find("540 image"), std::string::npos) << out;
  EXPECT_TRUE(records_of(d / "run").empty());
}

TEST(MediaHarness, ContextCapExcludesAndCountsTheLongConversation) {
  // The bundled MRCR set holds one conversation about three times longer than the others: a cap between them
  // excludes it, and results.json counts it instead of scoring it 0.
  const std::string model = testing::tiny_checkpoint();
  testing::TempDir d("mm_ctx");
  int rc = 0;
  const nlohmann::json full = run_cli("eval run --task mrcr_8needle --model " + model + " --precision f32 --max-new-tokens 2 --out " + (d / "all"), &rc);
  ASSERT_EQ(rc, 0) << full.dump();
  std::vector<int64_t> tokens;
  for (const ojson& r : records_of(d / "all")) tokens.push_back(r["prompt_tokens"].get<int64_t>());
  ASSERT_EQ(tokens.size(), 3u);
  std::sort(tokens.begin(), tokens.end());
  ASSERT_GT(tokens[2], 2 * tokens[1]);
  const int64_t cap = (tokens[1] + tokens[2]) / 2;
  const nlohmann::json capped = run_cli("eval run --task mrcr_8needle --model " + model + " --precision f32 --max-new-tokens 2 --max-context " +
                                            std::to_string(cap) + " --out " + (d / "capped"),
                                        &rc);
  ASSERT_EQ(rc, 0) << capped.dump();
  const nlohmann::json& t = capped["results"]["tasks"]["mrcr_8needle"];
  EXPECT_EQ(t["n"], 2);
  EXPECT_EQ(t["excluded"]["context"], 1);
  EXPECT_EQ(capped["results"]["settings"]["max_context"], cap);
  int skipped = 0;
  for (const ojson& r : records_of(d / "capped"))
    if (r.contains("skipped")) {
      ++skipped;
      EXPECT_EQ(r["context_needed"].get<int64_t>(), tokens[2] + 2);
    }
  EXPECT_EQ(skipped, 1);
}

// g4ref serve as the endpoint: media go as image_url / input_audio / video_url parts; a server that prepares
// images at another budget is refused (no sample written), or recorded with --media-tokens record.
TEST(MediaHarness, EndpointWithMediaPartsAndItsBudgetCheck) {
  const std::string model = testing::tiny_checkpoint();
  testing::TempDir d("mm_ep");
  const testing::ServeProcess server("--precision f32 --image-tokens 70 --model " + model);
  ASSERT_GT(server.port, 0) << "g4ref serve did not start";
  const std::string url = server.url();
  int rc = 0;
  for (const char* task : {"docvqa", "fleurs", "video_qa"}) {
    SCOPED_TRACE(task);
    const std::string dir = d / task;
    const nlohmann::json r = run_cli(std::string("eval run --task ") + task + " --backend endpoint --url " + url + " --model " + model +
                                         " --limit 1 --max-new-tokens 3 --image-tokens 70 --out " + dir,
                                     &rc);
    ASSERT_EQ(rc, 0) << r.dump();
    const std::vector<ojson> rs = records_of(dir);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs[0]["server_prompt_tokens"], rs[0]["prompt_tokens"]);
    std::string out;
    ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " eval audit " + dir + " --model " + model + " --precision f32 --json 2>&1", &out), 0) << out;
    EXPECT_EQ(nlohmann::json::parse(out)["same_prompt_ids"], 1);
  }
  // The task at budget 280, the server at 70: refused, naming both counts; nothing recorded.
  std::string out;
  rc = testing::run_command(std::string(G4REF_CLI) + " eval run --task docvqa --backend endpoint --url " + url + " --model " + model +
                                " --limit 1 --max-new-tokens 3 --image-tokens 280 --quiet --out " + (d / "mismatch") + " 2>&1",
                            &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("prompt tokens where g4ref's preprocessing gives"), std::string::npos) << out;
  EXPECT_TRUE(records_of(d / "mismatch").empty());
  const nlohmann::json kept = run_cli("eval run --task docvqa --backend endpoint --url " + url + " --model " + model +
                                          " --limit 1 --max-new-tokens 3 --image-tokens 280 --media-tokens record --out " + (d / "recorded"),
                                      &rc);
  ASSERT_EQ(rc, 0) << kept.dump();
  const std::vector<ojson> rs = records_of(d / "recorded");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_LT(rs[0]["server_prompt_tokens"].get<int64_t>(), rs[0]["prompt_tokens"].get<int64_t>());
  EXPECT_EQ(kept["results"]["backend"]["media_tokens"], "record");
}

TEST(MediaHarness, KillNineDuringAMediaRunThenResumeLosesNothing) {
  const std::string model = testing::tiny_checkpoint();
  testing::TempDir d("mm_kill");
  const std::string args = " eval run --task docvqa --model " + model + " --precision f32 --max-new-tokens 2 --quiet --out ";
  int rc = 0;
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + args + (d / "clean") + " > /dev/null 2>&1", &out), 0);
  const std::string dir = d / "killed";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + std::string(G4REF_CLI) + args + dir + " > /dev/null 2>&1").c_str(), nullptr);
    _exit(127);
  }
  // Killed once the first records are written and before the last. The wait is bounded by the run itself (it
  // ends by itself after 8 records) and a 10-minute deadline, not by a fixed time: under the sanitizers with every
  // core busy, the first two records can take far more than the 10 s an optimized build needs.
  const std::string log = (fs::path(dir) / "samples.jsonl").string();
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 120000 && !exited; ++i) {
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (std::count(text.begin(), text.end(), '\n') >= 2) break;
    exited = waitpid(pid, &status, WNOHANG) == pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(exited) << "the run ended before two records were written: status " << status;
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  const size_t before = records_of(dir).size();
  EXPECT_GE(before, 2u);
  const nlohmann::json r = run_cli(args.substr(1) + dir, &rc);
  ASSERT_EQ(rc, 0) << r.dump();
  if (before < 8) {
    EXPECT_EQ(r["resumed"].get<int64_t>() + r["run_now"].get<int64_t>(), 8);
  }
  const std::vector<ojson> a = records_of(d / "clean"), b = records_of(dir);
  ASSERT_EQ(a.size(), 8u);
  ASSERT_EQ(b.size(), 8u);
  std::map<std::string, ojson> by_id;
  for (const ojson& x : b) EXPECT_TRUE(by_id.emplace(x["id"].get<std::string>(), x).second) << "twice: " << x["id"];
  for (const ojson& x : a) {
    const ojson& y = by_id.at(x["id"].get<std::string>());
    EXPECT_EQ(x["output_ids"], y["output_ids"]);
    EXPECT_EQ(x["media"], y["media"]);
    EXPECT_EQ(x["score"], y["score"]);
  }
  std::ifstream ra(fs::path(d / "clean") / "results.json"), rb(fs::path(dir) / "results.json");
  const std::string ta((std::istreambuf_iterator<char>(ra)), std::istreambuf_iterator<char>());
  const std::string tb((std::istreambuf_iterator<char>(rb)), std::istreambuf_iterator<char>());
  EXPECT_EQ(ta, tb) << "results.json is a function of the records and settings";
}

}  // namespace
}  // namespace g4ref
