// Readers for the formats benchmarks are published in, all giving the same thing: a list of records, each a JSON
// object (field name → value). JSON Lines keeps each line's types; CSV and TSV give every field as a string
// (RFC 4180 quoting: fields in double quotes may hold the delimiter, newlines and doubled quotes). Parquet, the
// form of most datasets on the Hugging Face hub, is turned into JSON Lines by datasets/convert first.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace g4ref {

enum class DataFormat { jsonl, csv, tsv };

// "jsonl" | "csv" | "tsv", or from the file name's extension when FORMAT is empty or "auto".
DataFormat data_format(const std::string& format, const std::string& path);

// Every record of PATH. Errors name the file, the line and the problem (bad JSON, a row with more fields than the
// header, an unterminated quote, a line that is not an object).
std::vector<nlohmann::ordered_json> read_records(const std::string& path, DataFormat format);

// The parsers on text already in memory (WHERE names the source in errors).
std::vector<nlohmann::ordered_json> parse_jsonl(const std::string& text, const std::string& where);
std::vector<nlohmann::ordered_json> parse_delimited(const std::string& text, char delimiter, const std::string& where);

// The bytes of PATH; the error names the file.
std::string read_text_file(const std::string& path);

}  // namespace g4ref
