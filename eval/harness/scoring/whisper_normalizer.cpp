#include "harness/scoring/whisper_normalizer.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "base/error.h"
#include "harness/scoring/english_number_normalizer.h"
#include "harness/scoring/regex.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

const Regex& brackets() {
  static const Regex r(std::string(R"([<\[][^>\]]*[>\]])"), "whisper normalizer");
  return r;
}
const Regex& parentheses() {
  static const Regex r(std::string(R"(\(([^)]+?)\))"), "whisper normalizer");
  return r;
}
const Regex& whitespace_runs() {
  static const Regex r(std::string(R"(\s+)"), "whisper normalizer");
  return r;
}

bool is_mark_symbol_punct(char32_t c) {
  const char major = unicode_category(c)[0];
  return major == 'M' || major == 'S' || major == 'P';
}

std::u32string remove_symbols(const std::u32string& s) {
  std::u32string out;
  for (char32_t c : nfkc(s)) out.push_back(is_mark_symbol_punct(c) ? U' ' : c);
  return out;
}

std::u32string remove_symbols_and_diacritics(const std::u32string& s, const std::u32string& keep) {
  static const std::map<char32_t, std::u32string> additional = {
      {U'œ', U"oe"}, {U'Œ', U"OE"}, {U'ø', U"o"}, {U'Ø', U"O"}, {U'æ', U"ae"}, {U'Æ', U"AE"},
      {U'ß', U"ss"}, {U'ẞ', U"SS"}, {U'đ', U"d"}, {U'Đ', U"D"}, {U'ð', U"d"}, {U'Ð', U"D"},
      {U'þ', U"th"}, {U'Þ', U"th"}, {U'ł', U"l"}, {U'Ł', U"L"}};
  std::u32string out;
  for (char32_t c : nfkd(s)) {
    if (keep.find(c) != std::u32string::npos) {
      out.push_back(c);
    } else if (auto it = additional.find(c); it != additional.end()) {
      out += it->second;
    } else if (unicode_category(c) == "Mn") {
      // dropped
    } else if (is_mark_symbol_punct(c)) {
      out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string whisper_basic_normalize(const std::string& text, const BasicNormalizerOptions& o) {
  std::u32string s = python_lower(utf8_to_u32(text, "text"));
  s = brackets().sub(s, U"");
  s = parentheses().sub(s, U"");
  s = o.remove_diacritics ? remove_symbols_and_diacritics(s, U"") : remove_symbols(s);
  s = python_lower(s);
  if (o.split_letters) {
    static const Regex grapheme(std::string(R"(\X)"), "whisper normalizer");
    std::u32string joined;
    for (const auto& g : grapheme.find_all(s)) {
      if (!joined.empty()) joined.push_back(U' ');
      joined += g;
    }
    s = joined;
  }
  return u32_to_utf8(whitespace_runs().sub(s, U" "));
}

EnglishTextNormalizer::EnglishTextNormalizer(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open the spelling map");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const std::exception& e) {
    fail(file, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(file, "expected a JSON object of word → replacement");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) fail(file, "the value of \"" + k + "\" is not a string");
    spellings_[utf8_to_u32(k, file)] = utf8_to_u32(v.get<std::string>(), file);
  }
}

std::string EnglishTextNormalizer::operator()(const std::string& text) const {
  // Patterns in ICU syntax, replacements with $1 for Python's \1.
  static const std::vector<std::pair<Regex, std::u32string>> replacers = [] {
    static const std::pair<const char*, const char32_t*> table[] = {
        {R"(\bwon't\b)", U"will not"}, {R"(\bcan't\b)", U"can not"}, {R"(\blet's\b)", U"let us"},
        {R"(\bain't\b)", U"aint"}, {R"(\by'all\b)", U"you all"}, {R"(\bwanna\b)", U"want to"},
        {R"(\bgotta\b)", U"got to"}, {R"(\bgonna\b)", U"going to"}, {R"(\bi'ma\b)", U"i am going to"},
        {R"(\bimma\b)", U"i am going to"}, {R"(\bwoulda\b)", U"would have"}, {R"(\bcoulda\b)", U"could have"},
        {R"(\bshoulda\b)", U"should have"}, {R"(\bma'am\b)", U"madam"}, {R"(\bmr\b)", U"mister "},
        {R"(\bmrs\b)", U"missus "}, {R"(\bst\b)", U"saint "}, {R"(\bdr\b)", U"doctor "},
        {R"(\bprof\b)", U"professor "}, {R"(\bcapt\b)", U"captain "}, {R"(\bgov\b)", U"governor "},
        {R"(\bald\b)", U"alderman "}, {R"(\bgen\b)", U"general "}, {R"(\bsen\b)", U"senator "},
        {R"(\brep\b)", U"representative "}, {R"(\bpres\b)", U"president "}, {R"(\brev\b)", U"reverend "},
        {R"(\bhon\b)", U"honorable "}, {R"(\basst\b)", U"assistant "}, {R"(\bassoc\b)", U"associate "},
        {R"(\blt\b)", U"lieutenant "}, {R"(\bcol\b)", U"colonel "}, {R"(\bjr\b)", U"junior "},
        {R"(\bsr\b)", U"senior "}, {R"(\besq\b)", U"esquire "}, {R"('d been\b)", U" had been"},
        {R"('s been\b)", U" has been"}, {R"('d gone\b)", U" had gone"}, {R"('s gone\b)", U" has gone"},
        {R"('d done\b)", U" had done"}, {R"('s got\b)", U" has got"}, {R"(n't\b)", U" not"},
        {R"('re\b)", U" are"}, {R"('s\b)", U" is"}, {R"('d\b)", U" would"}, {R"('ll\b)", U" will"},
        {R"('t\b)", U" not"}, {R"('ve\b)", U" have"}, {R"('m\b)", U" am"}};
    std::vector<std::pair<Regex, std::u32string>> v;
    for (const auto& [p, r] : table) v.emplace_back(Regex(std::string(p), "English normalizer"), r);
    return v;
  }();
  static const Regex fillers(std::string(R"(\b(hmm|mm|mhm|mmm|uh|um)\b)"), "English normalizer");
  static const Regex space_apostrophe(std::string(R"(\s+')"), "English normalizer");
  static const Regex digit_comma(std::string(R"((\d),(\d))"), "English normalizer");
  static const Regex period(std::string(R"(\.([^0-9]|$))"), "English normalizer");
  static const Regex currency(std::string(R"([.$¢€£]([^0-9]))"), "English normalizer");
  static const Regex percent(std::string(R"(([^0-9])%)"), "English normalizer");

  std::u32string s = python_lower(utf8_to_u32(text, "text"));
  s = brackets().sub(s, U"");
  s = parentheses().sub(s, U"");
  s = fillers.sub(s, U"");
  s = space_apostrophe.sub(s, U"'");
  for (const auto& [re, repl] : replacers) s = re.sub(s, repl);
  s = digit_comma.sub(s, U"$1$2");
  s = period.sub(s, U" $1");
  s = remove_symbols_and_diacritics(s, U".%$¢€£");
  s = utf8_to_u32(whisper_english_numbers(u32_to_utf8(s)));
  {
    // EnglishSpellingNormalizer: " ".join(mapping.get(word, word) for word in s.split()) — it also strips the
    // text and collapses its whitespace when the map is empty.
    std::u32string joined;
    for (const auto& w : python_split(s)) {
      if (!joined.empty()) joined.push_back(U' ');
      auto it = spellings_.find(w);
      joined += it == spellings_.end() ? w : it->second;
    }
    s = joined;
  }
  s = currency.sub(s, U" $1");
  s = percent.sub(s, U"$1 ");
  return u32_to_utf8(whitespace_runs().sub(s, U" "));
}

}  // namespace g4ref::scoring
