#include "harness/task.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "base/error.h"
#include "harness/dataset.h"
#include "harness/sha256.h"

namespace g4ref {
namespace fs = std::filesystem;
namespace {

using ojson = nlohmann::ordered_json;

std::string as_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

const ojson& member(const ojson& j, const std::string& key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) fail(where, "missing field \"" + key + "\"");
  return j.at(key);
}

std::string string_or(const ojson& j, const std::string& key, const std::string& fallback, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  if (!j.at(key).is_string()) fail(where, "\"" + key + "\" must be a string, found " + j.at(key).type_name());
  return j.at(key).get<std::string>();
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A Python list literal of string literals, as repr() writes one: [ 'a', "it's", 'tab\t', '\xe9', '\u00e9' ]
// (single or double quotes, the escapes of Python's string literals, trailing comma allowed). False with WHY for
// anything else.
bool parse_python_string_list(const std::string& text, ojson* out, std::string* why) {
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto hex = [&](size_t n, uint32_t* cp) {
    if (i + n > text.size()) return false;
    *cp = 0;
    for (size_t k = 0; k < n; ++k) {
      const char h = text[i + k];
      if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
      *cp = *cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
    }
    i += n;
    return true;
  };
  *out = ojson::array();
  skip();
  if (i >= text.size() || text[i] != '[') return *why = "it does not start with [", false;
  ++i;
  while (true) {
    skip();
    if (i < text.size() && text[i] == ']') break;
    if (i >= text.size() || (text[i] != '\'' && text[i] != '"')) return *why = "expected a quoted string at offset " + std::to_string(i), false;
    const char q = text[i++];
    std::string item;
    while (true) {
      if (i >= text.size()) return *why = "a string is not closed", false;
      const char c = text[i++];
      if (c == q) break;
      if (c != '\\') {
        item += c;
        continue;
      }
      if (i >= text.size()) return *why = "a backslash at the end", false;
      const char e = text[i++];
      uint32_t cp = 0;
      switch (e) {
        case '\\': item += '\\'; break;
        case '\'': item += '\''; break;
        case '"': item += '"'; break;
        case 'n': item += '\n'; break;
        case 't': item += '\t'; break;
        case 'r': item += '\r'; break;
        case '\n': break;  // a line continuation
        case 'x':
          if (!hex(2, &cp)) return *why = "a bad \\x escape", false;
          append_utf8(cp, &item);
          break;
        case 'u':
          if (!hex(4, &cp)) return *why = "a bad \\u escape", false;
          append_utf8(cp, &item);
          break;
        case 'U':
          if (!hex(8, &cp) || cp > 0x10FFFF) return *why = "a bad \\U escape", false;
          append_utf8(cp, &item);
          break;
        default: item += '\\'; item += e;  // Python keeps unknown escapes as they are
      }
    }
    out->push_back(item);
    skip();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    skip();
    if (i < text.size() && text[i] == ']') break;
    return *why = "expected , or ] at offset " + std::to_string(i), false;
  }
  ++i;
  skip();
  if (i != text.size()) return *why = "text after the closing ]", false;
  return true;
}

// The media of one record by the task's "media" entries: each field's value is a file name or path (resolved in
// DIR under the data file's folder, with SUFFIX appended), an object with "path", or a data: URL; a null or empty
// value is no media (MMMU-Pro's image_2 … image_7).
std::vector<std::pair<std::string, std::string>> record_media(const Task& task, const ojson& doc, const fs::path& data_dir,
                                                              const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ojson& m : task.spec["media"]) {
    const std::string type = m["type"].get<std::string>();
    std::vector<std::string> fields;
    fs::path dir = data_dir / m.value("dir", "");
    if (m.contains("field") && m["field"].is_string()) {
      fields.push_back(m["field"].get<std::string>());
    } else if (m.contains("field")) {
      // Alternatives, for one task over two published layouts (a converted Parquet file names the image "image",
      // the original annotation file "image_local_name" in its image folder): the first the record holds.
      for (const ojson& alt : m["field"]) {
        const std::string name = alt.is_string() ? alt.get<std::string>() : alt["name"].get<std::string>();
        if (doc.contains(name) && !doc[name].is_null()) {
          fields.push_back(name);
          if (alt.is_object() && alt.contains("dir")) dir = data_dir / alt["dir"].get<std::string>();
          break;
        }
      }
      if (fields.empty()) fail(where, "has none of the media fields " + m["field"].dump());
    } else {
      for (const ojson& f : m["fields"]) fields.push_back(f.get<std::string>());
    }
    const std::string suffix = m.value("suffix", "");
    for (const std::string& f : fields) {
      if (!doc.contains(f)) {
        if (m.contains("fields")) continue;  // a listed field a record may lack
        fail(where, "missing media field \"" + f + "\"");
      }
      const ojson& v = doc[f];
      std::string ref;
      if (v.is_string()) ref = v.get<std::string>();
      else if (v.is_object() && v.contains("path") && v["path"].is_string()) ref = v["path"].get<std::string>();
      else if (v.is_null()) ref = "";
      else fail(where, "media field \"" + f + "\" is a " + std::string(v.type_name()) + ", expected a file name, {\"path\"} or a data: URL");
      if (ref.empty()) {
        if (m.contains("fields")) continue;
        fail(where, "media field \"" + f + "\" is empty");
      }
      if (ref.rfind("data:", 0) == 0) {
        out.emplace_back(type, ref);
        continue;
      }
      const fs::path p = fs::path(ref).is_absolute() ? fs::path(ref + suffix) : dir / (ref + suffix);
      out.emplace_back(type, p.lexically_normal().string());
    }
  }
  if (out.empty()) fail(where, "the record has no media (the task's media fields are all empty)");
  return out;
}

}  // namespace

MediaOptions task_media_options(const Task& task, int image_tokens) {
  MediaOptions m;
  const std::string where = task.path + ": media_options";
  const ojson o = task.spec.value("media_options", ojson::object());
  if (!o.is_object()) fail(where, "must be an object");
  for (auto it = o.begin(); it != o.end(); ++it) {
    const std::string& k = it.key();
    if (k != "image_tokens" && k != "max_audio_seconds" && k != "video_frames" && k != "video_frame_tokens")
      fail(where, "unknown field \"" + k + "\" (image_tokens, max_audio_seconds, video_frames, video_frame_tokens)");
    if (!it.value().is_number()) fail(where, "\"" + k + "\" must be a number");
  }
  auto budget = [&](int b, const std::string& name) {
    for (int x : kImageBudgets)
      if (x == b) return b;
    fail(name, std::to_string(b) + " is not one of the model's image budgets (70, 140, 280, 560, 1120; spec §3.1)");
  };
  m.image_tokens = budget(o.value("image_tokens", 280), where + ".image_tokens");
  if (image_tokens > 0) m.image_tokens = budget(image_tokens, "--image-tokens");
  m.max_audio_seconds = o.value("max_audio_seconds", 30.0);
  if (!(m.max_audio_seconds > 0)) fail(where + ".max_audio_seconds", "must be positive");
  m.video_frames = o.value("video_frames", kVideoFrames);
  if (m.video_frames < 1 || m.video_frames > 1024) fail(where + ".video_frames", "must be 1…1024");
  m.video_frame_tokens = budget(o.value("video_frame_tokens", kVideoFrameBudget), where + ".video_frame_tokens");
  return m;
}

ojson media_options_json(const MediaOptions& m) {
  return {{"image_tokens", m.image_tokens}, {"max_audio_seconds", m.max_audio_seconds},
          {"video_frames", m.video_frames}, {"video_frame_tokens", m.video_frame_tokens}};
}

MediaOptions media_options_from_json(const ojson& j, const std::string& where) {
  MediaOptions m;
  try {
    m.image_tokens = j.at("image_tokens").get<int>();
    m.max_audio_seconds = j.at("max_audio_seconds").get<double>();
    m.video_frames = j.at("video_frames").get<int>();
    m.video_frame_tokens = j.at("video_frame_tokens").get<int>();
  } catch (const nlohmann::json::exception& e) {
    fail(where, std::string("settings.media is not what g4ref writes (") + e.what() + ")");
  }
  return m;
}

uint64_t stable_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

int shard_of(const std::string& sample_id, int count) {
  return static_cast<int>(stable_hash(sample_id) % static_cast<uint64_t>(count));
}

std::string strip_thinking(const std::string& text) {
  // The thought channel is <|channel>thought … <channel|> (claims-and-evals §2.4, chat format).
  std::string s = text;
  for (size_t open = s.find("<|channel>"); open != std::string::npos; open = s.find("<|channel>", open)) {
    const size_t close = s.find("<channel|>", open);
    if (close == std::string::npos) {
      s.erase(open);
      break;
    }
    s.erase(open, close + std::string("<channel|>").size() - open);
  }
  return s;
}

std::string task_path_for(const std::string& name, const std::string& tasks_dir) {
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      fail("--task", "\"" + name + "\" is not a task name (letters, digits, _ - .); use --task-file for a path");
  const std::string p = (fs::path(tasks_dir) / (name + ".json")).string();
  if (!fs::exists(p)) {
    std::string known;
    if (fs::is_directory(tasks_dir))
      for (const auto& e : fs::directory_iterator(tasks_dir))
        if (e.path().extension() == ".json") known += (known.empty() ? "" : ", ") + e.path().stem().string();
    fail("--task", "no task \"" + name + "\" in " + tasks_dir + " (known: " + known + ")");
  }
  return p;
}

Task load_task(const std::string& path) {
  Task t;
  t.path = path;
  const std::string bytes = read_text_file(path);
  t.file_sha256 = sha256_hex(bytes);
  try {
    t.spec = ojson::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!t.spec.is_object()) fail(path, "expected a JSON object");
  const ojson& s = t.spec;
  t.name = string_or(s, "name", "", path);
  if (t.name.empty()) fail(path, "missing field \"name\"");
  t.mode = string_or(s, "mode", "generate", path);
  if (t.mode != "generate" && t.mode != "loglikelihood")
    fail(path, "\"mode\" must be \"generate\" or \"loglikelihood\", found \"" + t.mode + "\"");
  t.metric = string_or(s, "metric", "", path);
  if (t.metric.empty()) fail(path, "missing field \"metric\"");
  if (s.contains("repeats")) {
    if (!s["repeats"].is_number_integer() || s["repeats"].get<int>() < 1)
      fail(path, "\"repeats\" must be an integer ≥ 1");
    t.repeats = s["repeats"].get<int>();
  }
  if (s.contains("choices")) {
    const ojson& c = s["choices"];
    t.letters = string_or(c, "letters", "ABCDEFGHIJ", path + ": choices");
    const int forms = c.contains("field") + c.contains("fields") + c.contains("correct");
    if (forms != 1) fail(path, "choices: give exactly one of \"field\" (a list), \"fields\" (one per choice) or \"correct\" + \"incorrect\"");
    if (c.contains("correct") && !c.contains("incorrect")) fail(path, "choices: \"correct\" needs \"incorrect\" (a list of fields)");
  } else if (t.mode == "loglikelihood") {
    fail(path, "\"mode\": \"loglikelihood\" scores choice letters, so the task needs \"choices\"");
  }
  const ojson& data = member(s, "data", path);
  const ojson& files = member(data, "files", path + ": data");
  if (!files.is_array() || files.empty()) fail(path, "data.files must be a non-empty list");
  member(s, "prompt", path);
  if (!s["prompt"].contains("user") && !s["prompt"].contains("messages_field"))
    fail(path + ": prompt", "give \"user\" (a template of the question turn) or \"messages_field\" (the record's own conversation)");
  if (!s.contains("target")) fail(path, "missing field \"target\"");
  if (s.contains("media")) {
    if (!s["media"].is_array() || s["media"].empty()) fail(path, "\"media\" must be a non-empty list of {type, field | fields, dir, suffix}");
    for (const ojson& m : s["media"]) {
      const std::string where = path + ": media";
      const std::string type = string_or(m, "type", "", where);
      if (type != "image" && type != "audio" && type != "video")
        fail(where, "\"type\" must be image, audio or video, found \"" + type + "\"");
      if (m.contains("field") == m.contains("fields")) fail(where, "give exactly one of \"field\" and \"fields\" (a list)");
      if (m.contains("field") && !m["field"].is_string()) {
        if (!m["field"].is_array() || m["field"].empty()) fail(where, "\"field\" must be a name or a list of alternatives");
        for (const ojson& alt : m["field"])
          if (!alt.is_string() && !(alt.is_object() && alt.contains("name") && alt["name"].is_string()))
            fail(where, "each alternative of \"field\" is a name or {\"name\", \"dir\"}");
      }
      if (m.contains("fields") && (!m["fields"].is_array() || m["fields"].empty()))
        fail(where, "\"fields\" must be a non-empty list of field names");
      string_or(m, "dir", "", where);
      string_or(m, "suffix", "", where);
    }
  }
  task_media_options(t);  // checks "media_options"
  return t;
}

std::vector<DataFile> task_data_files(const Task& task, const std::string& override_path) {
  std::vector<DataFile> out;
  // data.root: the folder the files' paths are relative to, laid out as the published release (FLEURS' lang/test.tsv
  // and audio/test/); --data with a folder then stands for that root.
  const std::string root = string_or(task.spec["data"], "root", "", task.path + ": data");
  const bool override_root = !root.empty() && !override_path.empty() && fs::is_directory(override_path);
  const fs::path base = override_root ? fs::path(override_path) : fs::path(task.path).parent_path() / root;
  for (const ojson& f : task.spec["data"]["files"]) {
    DataFile d;
    const std::string where = task.path + ": data.files";
    d.path = (base / string_or(f, "path", "", where)).lexically_normal().string();
    if (override_root && !fs::exists(d.path))
      fail("--data", override_path + " has no " + string_or(f, "path", "", where) + " (the task reads its files under one folder laid out as the published release)");
    if (string_or(f, "path", "", where).empty()) fail(where, "an entry lacks \"path\"");
    d.format = string_or(f, "format", "auto", where);
    d.read.records = string_or(f, "records", "", where);
    if (f.contains("columns")) {
      if (!f["columns"].is_array() || f["columns"].empty()) fail(where, "\"columns\" must be a non-empty list of names");
      for (const ojson& c : f["columns"]) {
        if (!c.is_string()) fail(where, "\"columns\" must hold strings");
        d.read.columns.push_back(c.get<std::string>());
      }
    }
    if (f.contains("quoting")) {
      if (!f["quoting"].is_boolean()) fail(where, "\"quoting\" must be true or false");
      d.read.quoting = f["quoting"].get<bool>();
    }
    if (f.contains("fields")) d.fields = f["fields"];
    d.tag = string_or(f, "tag", fs::path(d.path).stem().string(), where);
    out.push_back(d);
  }
  if (!override_path.empty() && !override_root) {
    if (fs::is_directory(override_path)) {
      // The real data, converted into one folder under the names the task's bundled files have.
      for (DataFile& d : out) {
        const std::string name = fs::path(d.path).filename().string();
        d.path = (fs::path(override_path) / name).string();
        if (!fs::exists(d.path)) fail("--data", override_path + " has no " + name + " (the task reads one file of that name per entry of data.files)");
      }
    } else {
      if (out.size() != 1)
        fail("--data", "task " + task.name + " reads " + std::to_string(out.size()) +
                           " files; give a folder holding files of the same names");
      out[0].path = override_path;
    }
  }
  return out;
}

std::string fill_template(const std::string& tmpl, const ojson& doc, const ojson& vars, const std::string& where) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = tmpl.find("{{", pos);
    if (open == std::string::npos) break;
    const size_t close = tmpl.find("}}", open + 2);
    if (close == std::string::npos) fail(where, "\"{{\" without \"}}\" in the template");
    out += tmpl.substr(pos, open - pos);
    const std::string name = tmpl.substr(open + 2, close - open - 2);
    if (vars.contains(name)) {
      out += as_text(vars[name]);
    } else if (doc.contains(name)) {
      out += as_text(doc[name]);
    } else {
      fail(where, "the template names \"{{" + name + "}}\", which is neither a field of the record nor a task variable");
    }
    pos = close + 2;
  }
  return out + tmpl.substr(pos);
}

namespace {

// The choice texts of a record in their original order and the original index of the correct one (-1: unknown).
std::vector<std::string> original_choices(const Task& task, const ojson& doc, const std::string& where) {
  const ojson& c = task.spec["choices"];
  std::vector<std::string> out;
  if (c.contains("field")) {
    const ojson& v = member(doc, c["field"].get<std::string>(), where);
    ojson list = v;
    if (v.is_string()) {
      // Some exports keep the list as a JSON string, MMMU-Pro as a Python list literal ("['1', \"it's\"]").
      try {
        list = ojson::parse(v.get<std::string>());
      } catch (const nlohmann::json::exception&) {
        std::string why;
        if (!parse_python_string_list(v.get<std::string>(), &list, &why))
          fail(where, "field \"" + c["field"].get<std::string>() + "\" is a string that is neither a JSON list nor a Python list of strings (" + why + ")");
      }
    }
    if (!list.is_array()) fail(where, "field \"" + c["field"].get<std::string>() + "\" must be a list of choices");
    for (const ojson& x : list) out.push_back(as_text(x));
  } else if (c.contains("fields")) {
    for (const ojson& f : c["fields"]) out.push_back(as_text(member(doc, f.get<std::string>(), where)));
  } else {
    out.push_back(as_text(member(doc, c["correct"].get<std::string>(), where)));
    for (const ojson& f : c["incorrect"]) out.push_back(as_text(member(doc, f.get<std::string>(), where)));
  }
  if (out.empty() && c.value("optional", false)) return out;  // a free-form record of a mixed task (MATH-Vision)
  if (out.size() < 2) fail(where, "fewer than two choices");
  if (out.size() > task.letters.size())
    fail(where, std::to_string(out.size()) + " choices but only " + std::to_string(task.letters.size()) + " letters");
  for (auto& s : out) s = trim(s);  // the published CSVs carry stray spaces and newlines around choices
  return out;
}

int correct_index(const Task& task, const ojson& doc, size_t n_choices, const std::string& where) {
  const ojson& t = task.spec["target"];
  if (task.spec["choices"].contains("correct")) return 0;
  if (t.contains("index_field")) {
    const ojson& v = member(doc, t["index_field"].get<std::string>(), where);
    int i = v.is_number_integer() ? v.get<int>() : -1;
    if (v.is_string()) i = std::atoi(v.get<std::string>().c_str());
    if (i < 0 || i >= static_cast<int>(n_choices)) fail(where, "target index " + v.dump() + " is not a choice");
    return i;
  }
  const std::string letter = as_text(member(doc, member(t, "field", where + ": target").get<std::string>(), where));
  const size_t i = letter.size() == 1 ? task.letters.find(letter[0]) : std::string::npos;
  if (i == std::string::npos || i >= n_choices) fail(where, "target \"" + letter + "\" is not one of the choice letters");
  return static_cast<int>(i);
}

std::string render_choices(const Task& task, const std::vector<std::string>& choices, const std::string& where) {
  const ojson& c = task.spec["choices"];
  const std::string fmt = string_or(c, "format", "{{letter}}. {{text}}", where);
  const std::string sep = string_or(c, "separator", "\n", where);
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    const ojson vars = {{"letter", std::string(1, task.letters[i])}, {"text", choices[i]}};
    out += (i ? sep : "") + fill_template(fmt, ojson::object(), vars, where + ": choices.format");
  }
  return out;
}

ojson template_vars(const Task& task, const std::vector<std::string>& choices, const std::string& where) {
  ojson vars = ojson::object();
  if (task.multiple_choice() && !choices.empty()) {
    vars["choices"] = render_choices(task, choices, where);
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i) list += (i ? ", " : "") + std::string(1, task.letters[i]);
    vars["letters"] = list;
    vars["first_letter"] = std::string(1, task.letters[0]);
    vars["last_letter"] = std::string(1, task.letters[choices.size() - 1]);
    for (size_t i = 0; i < choices.size(); ++i) vars[std::string(1, task.letters[i])] = choices[i];
  }
  return vars;
}

}  // namespace

std::vector<Sample> build_samples(const Task& task, const std::vector<DataFile>& files, int limit, uint64_t seed,
                                  std::vector<std::string>* data_digests) {
  const std::string id_field = string_or(task.spec["data"], "id_field", "", task.path);
  std::vector<std::string> group_by;
  if (task.spec.contains("group_by"))
    for (const ojson& g : task.spec["group_by"]) group_by.push_back(g.get<std::string>());
  const bool shuffle = task.spec.contains("choices") && task.spec["choices"].value("shuffle", false);
  std::vector<Sample> out;
  std::set<std::string> seen;
  size_t doc_index = 0;
  for (const DataFile& f : files) {
    if (limit > 0 && static_cast<int>(doc_index) >= limit) break;
    if (data_digests) data_digests->push_back(sha256_hex(read_text_file(f.path)));
    std::vector<ojson> records = read_records(f.path, data_format(f.format, f.path), f.read);
    const fs::path data_dir = fs::absolute(fs::path(f.path)).lexically_normal().parent_path();
    for (size_t row = 0; row < records.size(); ++row) {
      if (limit > 0 && static_cast<int>(doc_index) >= limit) break;
      ojson doc = records[row];
      for (auto it = f.fields.begin(); it != f.fields.end(); ++it) doc[it.key()] = it.value();
      const std::string where = f.path + ": record " + std::to_string(row + 1);
      std::string doc_id = id_field.empty() ? f.tag + ":" + std::to_string(row) : as_text(member(doc, id_field, where));
      if (!id_field.empty() && files.size() > 1) doc_id = f.tag + ":" + doc_id;
      if (!seen.insert(doc_id).second) fail(where, "id \"" + doc_id + "\" appears twice (sample ids must be unique)");
      for (int r = 0; r < task.repeats; ++r) {
        Sample s;
        s.doc_id = doc_id;
        s.repeat = r;
        s.id = task.repeats > 1 ? doc_id + "#r" + std::to_string(r) : doc_id;
        s.doc_index = doc_index;
        s.doc = doc;
        for (const auto& g : group_by) s.groups.emplace_back(g, as_text(member(doc, g, where)));
        const std::vector<std::string> orig = task.multiple_choice() ? original_choices(task, doc, where) : std::vector<std::string>{};
        if (task.multiple_choice() && !orig.empty()) {
          const int correct = correct_index(task, doc, orig.size(), where);
          s.permutation.resize(orig.size());
          for (size_t i = 0; i < orig.size(); ++i) s.permutation[i] = static_cast<int>(i);
          if (shuffle) {
            // A recorded function of (seed, id, repeat) only: the same on every shard and in every resume.
            uint64_t state = stable_hash(std::to_string(seed) + "\x1f" + doc_id + "\x1f" + std::to_string(r));
            for (size_t i = orig.size() - 1; i > 0; --i) std::swap(s.permutation[i], s.permutation[splitmix64(state) % (i + 1)]);
          }
          for (int p : s.permutation) s.choices.push_back(orig[p]);
          const size_t at = std::find(s.permutation.begin(), s.permutation.end(), correct) - s.permutation.begin();
          s.target = std::string(1, task.letters[at]);
        } else {
          if (!task.spec["target"].contains("field"))
            fail(where, "has no choices, so the target must be a field (target.field)");
          const ojson& v = member(doc, member(task.spec["target"], "field", task.path + ": target").get<std::string>(), where);
          if (v.is_array()) {
            if (v.empty()) fail(where, "the target field is an empty list (no accepted answer)");
            for (const ojson& x : v) s.targets.push_back(as_text(x));
            s.target = s.targets[0];
          } else {
            s.target = as_text(v);
          }
        }
        if (s.targets.empty()) s.targets = {s.target};
        if (task.has_media()) s.media = record_media(task, doc, data_dir, where);
        out.push_back(std::move(s));
      }
      ++doc_index;
    }
  }
  if (out.empty()) fail(task.path, "the data files hold no records");
  return out;
}

std::vector<ojson> load_fewshot_pool(const Task& task) {
  if (!task.spec.contains("fewshot") || task.spec["fewshot"].value("n", 0) == 0) return {};
  const ojson& f = task.spec["fewshot"];
  const std::string rel = string_or(f, "file", "", task.path + ": fewshot");
  if (rel.empty()) fail(task.path, "fewshot.n > 0 needs fewshot.file");
  const std::string p = (fs::path(task.path).parent_path() / rel).lexically_normal().string();
  return read_records(p, data_format(string_or(f, "format", "auto", task.path), p));
}

Conversation build_conversation(const Task& task, const Sample& sample, bool thinking, const std::vector<ojson>& pool) {
  const ojson& p = task.spec["prompt"];
  const std::string where = task.path + ": prompt";
  ojson messages = ojson::array();
  const std::string system = string_or(p, "system", "", where);
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", fill_template(system, sample.doc, ojson::object(), where)}});
  if (!pool.empty()) {
    const ojson& f = task.spec["fewshot"];
    const int n = f.value("n", 0);
    const std::string match = string_or(f, "match_field", "", where);
    const std::string user = string_or(f, "user", p.value("user", ""), where);
    const std::string assistant = string_or(f, "assistant", "", where);
    int used = 0;
    for (const ojson& ex : pool) {
      if (used == n) break;
      if (!match.empty() && (!ex.contains(match) || as_text(ex[match]) != as_text(sample.doc.value(match, ojson()))))
        continue;
      std::vector<std::string> choices;
      if (task.multiple_choice()) choices = original_choices(task, ex, where + ": few-shot record");
      const ojson vars = template_vars(task, choices, where);
      messages.push_back({{"role", "user"}, {"content", fill_template(user, ex, vars, where + ": fewshot.user")}});
      std::string answer = fill_template(assistant, ex, vars, where + ": fewshot.assistant");
      // fewshot.replace: [[FROM, TO], …] applied in order to the exemplar's answer (MMLU-Pro's cot_content starts
      // "A: Let's think step by step.", which its protocol rewrites to "Answer: …").
      if (f.contains("replace")) {
        for (const ojson& rule : f["replace"]) {
          if (!rule.is_array() || rule.size() != 2 || !rule[0].is_string() || !rule[1].is_string() || rule[0].get<std::string>().empty()) {
            fail(task.path, "fewshot.replace must be a list of [FROM, TO] string pairs with FROM not empty");
          }
          const std::string from = rule[0].get<std::string>(), to = rule[1].get<std::string>();
          for (size_t at = answer.find(from); at != std::string::npos; at = answer.find(from, at + to.size())) {
            answer.replace(at, from.size(), to);
          }
        }
      }
      messages.push_back({{"role", "assistant"}, {"content", answer}});
      ++used;
    }
  }
  if (p.contains("messages_field")) {
    // The record carries its own conversation (MRCR's "prompt": a JSON string holding a list of messages).
    const std::string field = p["messages_field"].get<std::string>();
    ojson given = member(sample.doc, field, where);
    if (given.is_string()) {
      try {
        given = ojson::parse(given.get<std::string>());
      } catch (const nlohmann::json::exception& e) {
        fail(where, "field \"" + field + "\" of record " + sample.doc_id + " is not a JSON list of messages (" + e.what() + ")");
      }
    }
    if (!given.is_array()) fail(where, "field \"" + field + "\" of record " + sample.doc_id + " is not a list of messages");
    for (const ojson& m : given) messages.push_back(m);
    Conversation c = Conversation::from_json(messages, where + ": record " + sample.doc_id);
    c.thinking = thinking;
    return c;
  }
  const ojson vars = template_vars(task, sample.choices, where);
  // prompt.user_without_choices: the question turn of a record without choices in a task whose choices are optional.
  const bool free_form = task.multiple_choice() && sample.choices.empty();
  const std::string tmpl = free_form && p.contains("user_without_choices") ? p["user_without_choices"].get<std::string>()
                                                                           : p["user"].get<std::string>();
  const std::string text = fill_template(tmpl, sample.doc, vars, where + ".user");
  if (sample.media.empty()) {
    messages.push_back({{"role", "user"}, {"content", text}});
  } else {
    // Media first, then the text (the model card's advice for images and audio).
    ojson content = ojson::array();
    for (const auto& [type, path] : sample.media) {
      if (path.rfind("data:", 0) == 0) content.push_back({{"type", type}, {"url", path}});
      else content.push_back({{"type", type}, {"path", path}});
    }
    content.push_back({{"type", "text"}, {"text", text}});
    messages.push_back({{"role", "user"}, {"content", content}});
  }
  Conversation c;  // built from checked parts: every message is {role, content: string | parts}
  c.messages = messages;
  c.thinking = thinking;
  return c;
}

}  // namespace g4ref
