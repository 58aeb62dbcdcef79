#include "harness/dataset.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"

namespace g4ref {

std::string read_text_file(const std::string& path) {
  if (std::filesystem::is_directory(path)) fail(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return s.str();
}

DataFormat data_format(const std::string& format, const std::string& path) {
  if (format == "jsonl" || format == "ndjson") return DataFormat::jsonl;
  if (format == "json") return DataFormat::json;
  if (format == "csv") return DataFormat::csv;
  if (format == "tsv") return DataFormat::tsv;
  if (!format.empty() && format != "auto") fail(path, "unknown data format \"" + format + "\" (expected jsonl, json, csv or tsv)");
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".jsonl" || ext == ".ndjson") return DataFormat::jsonl;
  if (ext == ".json") return DataFormat::json;
  if (ext == ".csv") return DataFormat::csv;
  if (ext == ".tsv" || ext == ".tab") return DataFormat::tsv;
  if (ext == ".parquet") fail(path, "Parquet is read through datasets/convert (node datasets/convert/convert.mjs IN OUT.jsonl)");
  fail(path, "cannot tell the data format from the extension \"" + ext + "\" (expected .jsonl, .json, .csv or .tsv)");
}

std::vector<nlohmann::ordered_json> parse_jsonl(const std::string& text, const std::string& where) {
  std::vector<nlohmann::ordered_json> out;
  size_t pos = 0;
  int line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    if (line == 1 && s.rfind("\xEF\xBB\xBF", 0) == 0) s = s.substr(3);
    if (s.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(s);
    } catch (const nlohmann::json::exception& e) {
      fail(where, "line " + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) fail(where, "line " + std::to_string(line) + ": expected a JSON object, found " + j.type_name());
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<nlohmann::ordered_json> parse_json_records(const std::string& text, const std::string& where,
                                                       const ReadOptions& options) {
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(text.rfind("\xEF\xBB\xBF", 0) == 0 ? text.substr(3) : text);
  } catch (const nlohmann::json::exception& e) {
    fail(where, std::string("not valid JSON (") + e.what() + ")");
  }
  const nlohmann::ordered_json* list = &doc;
  if (!options.records.empty()) {
    if (!doc.is_object() || !doc.contains(options.records))
      fail(where, "expected an object with the list of records under \"" + options.records + "\"");
    list = &doc[options.records];
  }
  if (!list->is_array())
    fail(where, std::string("expected a list of records") + (options.records.empty() ? "" : " under \"" + options.records + "\"") +
                    ", found " + list->type_name() + (options.records.empty() && doc.is_object() ? " (name its key with \"records\")" : ""));
  std::vector<nlohmann::ordered_json> out;
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_object()) fail(where, "record " + std::to_string(i + 1) + " is a " + (*list)[i].type_name() + ", expected an object");
    out.push_back(std::move((*list)[i]));
  }
  return out;
}

std::vector<nlohmann::ordered_json> parse_delimited(const std::string& text, char delimiter, const std::string& where,
                                                    const ReadOptions& options) {
  // Rows of fields, quotes undone; a newline inside quotes belongs to the field.
  std::vector<std::vector<std::string>> rows;
  std::vector<int> row_lines;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false, after_quote = false;
  int line = 1, row_line = 1;
  size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = after_quote = false;
  };
  auto end_row = [&] {
    end_field();
    if (!(row.size() == 1 && row[0].empty())) {  // a blank line
      rows.push_back(std::move(row));
      row_lines.push_back(row_line);
    }
    row.clear();
  };
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && options.quoting) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == delimiter) {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      row_line = ++line;
    } else if (c == '"' && !field_started && options.quoting) {
      quoted = field_started = true;
    } else {
      if (after_quote) fail(where, "line " + std::to_string(line) + ": text after a closing quote");
      field += c;
      field_started = true;
    }
  }
  if (quoted) fail(where, "line " + std::to_string(row_line) + ": a quoted field is not closed before the end of the file");
  if (field_started || !row.empty()) end_row();
  if (!options.columns.empty()) rows.insert(rows.begin(), options.columns);  // a file without a header row
  if (rows.empty()) fail(where, "no header row");
  const std::vector<std::string>& header = rows[0];
  for (size_t a = 0; a < header.size(); ++a)
    for (size_t b = a + 1; b < header.size(); ++b)
      if (header[a] == header[b]) fail(where, "header names column \"" + header[a] + "\" twice");
  std::vector<nlohmann::ordered_json> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != header.size())
      fail(where, "line " + std::to_string(row_lines[r - (options.columns.empty() ? 0 : 1)]) + ": " +
                      std::to_string(rows[r].size()) + " fields, expected " + std::to_string(header.size()) +
                      (options.columns.empty() ? " (the header's)" : " (the task's data columns)"));
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (size_t c = 0; c < header.size(); ++c) j[header[c]] = rows[r][c];
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<nlohmann::ordered_json> read_records(const std::string& path, DataFormat format) {
  return read_records(path, format, ReadOptions{});
}

std::vector<nlohmann::ordered_json> read_records(const std::string& path, DataFormat format, const ReadOptions& options) {
  const std::string text = read_text_file(path);
  switch (format) {
    case DataFormat::jsonl: return parse_jsonl(text, path);
    case DataFormat::json: return parse_json_records(text, path, options);
    case DataFormat::csv: return parse_delimited(text, ',', path, options);
    case DataFormat::tsv: return parse_delimited(text, '\t', path, options);
  }
  fail(path, "unknown data format");
}

}  // namespace g4ref
