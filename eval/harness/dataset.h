// Readers for the formats benchmarks are published in, all giving the same thing: a list of records, each a JSON
// object (field name → value). JSON Lines and JSON keep the values' types; CSV and TSV give every field as a string
// (RFC 4180 quoting: fields in double quotes may hold the delimiter, newlines and doubled quotes). Parquet, the
// form of most datasets on the Hugging Face hub, is turned into JSON Lines by datasets/convert first.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace g4ref {

enum class DataFormat { jsonl, json, csv, tsv };

// "jsonl" | "json" | "csv" | "tsv", or from the file name's extension when FORMAT is empty or "auto".
DataFormat data_format(const std::string& format, const std::string& path);

// Every record of PATH. Errors name the file, the line and the problem (bad JSON, a row with more fields than the
// header, an unterminated quote, a line that is not an object).
std::vector<nlohmann::ordered_json> read_records(const std::string& path, DataFormat format);

// How a file of a published layout is read, beyond its format:
//   records  json: the key of the object that holds the list of records ("data" in DocVQA's and InfographicVQA's
//            annotation files); empty: the document itself is the list
//   columns  csv/tsv without a header row (FLEURS' TSVs): the column names, in order
//   quoting  csv/tsv: false reads every field verbatim between delimiters, as the pandas QUOTE_NONE readers of
//            FLEURS and CoVoST 2 do (their transcripts hold bare double quotes)
struct ReadOptions {
  std::string records;
  std::vector<std::string> columns;
  bool quoting = true;
};
std::vector<nlohmann::ordered_json> read_records(const std::string& path, DataFormat format, const ReadOptions& options);

// The parsers on text already in memory (WHERE names the source in errors).
std::vector<nlohmann::ordered_json> parse_jsonl(const std::string& text, const std::string& where);
std::vector<nlohmann::ordered_json> parse_delimited(const std::string& text, char delimiter, const std::string& where,
                                                    const ReadOptions& options = {});
// A JSON document: a list of records, or an object whose member OPTIONS.records is that list.
std::vector<nlohmann::ordered_json> parse_json_records(const std::string& text, const std::string& where,
                                                       const ReadOptions& options = {});

// The bytes of PATH; the error names the file.
std::string read_text_file(const std::string& path);

}  // namespace g4ref
