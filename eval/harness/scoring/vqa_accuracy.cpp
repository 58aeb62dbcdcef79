#include "harness/scoring/vqa_accuracy.h"

#include <algorithm>
#include <map>

#include "base/error.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

// EvalAI's contraction table (missing apostrophes restored). Entries with capitals never match after the
// lowercasing but belong to the table.
const std::map<std::u32string, std::u32string>& contractions() {
  static const std::map<std::u32string, std::u32string> m = {
      {U"aint", U"ain't"}, {U"arent", U"aren't"}, {U"cant", U"can't"}, {U"couldve", U"could've"},
      {U"couldnt", U"couldn't"}, {U"couldn'tve", U"couldn't've"}, {U"couldnt've", U"couldn't've"},
      {U"didnt", U"didn't"}, {U"doesnt", U"doesn't"}, {U"dont", U"don't"}, {U"hadnt", U"hadn't"},
      {U"hadnt've", U"hadn't've"}, {U"hadn'tve", U"hadn't've"}, {U"hasnt", U"hasn't"}, {U"havent", U"haven't"},
      {U"hed", U"he'd"}, {U"hed've", U"he'd've"}, {U"he'dve", U"he'd've"}, {U"hes", U"he's"}, {U"howd", U"how'd"},
      {U"howll", U"how'll"}, {U"hows", U"how's"}, {U"Id've", U"I'd've"}, {U"I'dve", U"I'd've"}, {U"Im", U"I'm"},
      {U"Ive", U"I've"}, {U"isnt", U"isn't"}, {U"itd", U"it'd"}, {U"itd've", U"it'd've"}, {U"it'dve", U"it'd've"},
      {U"itll", U"it'll"}, {U"let's", U"let's"}, {U"maam", U"ma'am"}, {U"mightnt", U"mightn't"},
      {U"mightnt've", U"mightn't've"}, {U"mightn'tve", U"mightn't've"}, {U"mightve", U"might've"},
      {U"mustnt", U"mustn't"}, {U"mustve", U"must've"}, {U"neednt", U"needn't"}, {U"notve", U"not've"},
      {U"oclock", U"o'clock"}, {U"oughtnt", U"oughtn't"}, {U"ow's'at", U"'ow's'at"}, {U"'ows'at", U"'ow's'at"},
      {U"'ow'sat", U"'ow's'at"}, {U"shant", U"shan't"}, {U"shed've", U"she'd've"}, {U"she'dve", U"she'd've"},
      {U"she's", U"she's"}, {U"shouldve", U"should've"}, {U"shouldnt", U"shouldn't"},
      {U"shouldnt've", U"shouldn't've"}, {U"shouldn'tve", U"shouldn't've"}, {U"somebody'd", U"somebodyd"},
      {U"somebodyd've", U"somebody'd've"}, {U"somebody'dve", U"somebody'd've"}, {U"somebodyll", U"somebody'll"},
      {U"somebodys", U"somebody's"}, {U"someoned", U"someone'd"}, {U"someoned've", U"someone'd've"},
      {U"someone'dve", U"someone'd've"}, {U"someonell", U"someone'll"}, {U"someones", U"someone's"},
      {U"somethingd", U"something'd"}, {U"somethingd've", U"something'd've"},
      {U"something'dve", U"something'd've"}, {U"somethingll", U"something'll"}, {U"thats", U"that's"},
      {U"thered", U"there'd"}, {U"thered've", U"there'd've"}, {U"there'dve", U"there'd've"},
      {U"therere", U"there're"}, {U"theres", U"there's"}, {U"theyd", U"they'd"}, {U"theyd've", U"they'd've"},
      {U"they'dve", U"they'd've"}, {U"theyll", U"they'll"}, {U"theyre", U"they're"}, {U"theyve", U"they've"},
      {U"twas", U"'twas"}, {U"wasnt", U"wasn't"}, {U"wed've", U"we'd've"}, {U"we'dve", U"we'd've"},
      {U"weve", U"we've"}, {U"werent", U"weren't"}, {U"whatll", U"what'll"}, {U"whatre", U"what're"},
      {U"whats", U"what's"}, {U"whatve", U"what've"}, {U"whens", U"when's"}, {U"whered", U"where'd"},
      {U"wheres", U"where's"}, {U"whereve", U"where've"}, {U"whod", U"who'd"}, {U"whod've", U"who'd've"},
      {U"who'dve", U"who'd've"}, {U"wholl", U"who'll"}, {U"whos", U"who's"}, {U"whove", U"who've"},
      {U"whyll", U"why'll"}, {U"whyre", U"why're"}, {U"whys", U"why's"}, {U"wont", U"won't"},
      {U"wouldve", U"would've"}, {U"wouldnt", U"wouldn't"}, {U"wouldnt've", U"wouldn't've"},
      {U"wouldn'tve", U"wouldn't've"}, {U"yall", U"y'all"}, {U"yall'll", U"y'all'll"}, {U"y'allll", U"y'all'll"},
      {U"yall'd've", U"y'all'd've"}, {U"y'alld've", U"y'all'd've"}, {U"y'all'dve", U"y'all'd've"},
      {U"youd", U"you'd"}, {U"youd've", U"you'd've"}, {U"you'dve", U"you'd've"}, {U"youll", U"you'll"},
      {U"youre", U"you're"}, {U"youve", U"you've"}};
  return m;
}

const std::map<std::u32string, std::u32string>& number_words() {
  static const std::map<std::u32string, std::u32string> m = {
      {U"none", U"0"}, {U"zero", U"0"}, {U"one", U"1"}, {U"two", U"2"},   {U"three", U"3"}, {U"four", U"4"},
      {U"five", U"5"}, {U"six", U"6"},  {U"seven", U"7"}, {U"eight", U"8"}, {U"nine", U"9"}, {U"ten", U"10"}};
  return m;
}

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

// COMMA_STRIP (?<=\d)(\,)+(?=\d): a run of commas between two digits.
bool has_comma_between_digits(const std::u32string& s) {
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] != U',' || !is_digit(s[i - 1])) continue;
    size_t j = i;
    while (j < s.size() && s[j] == U',') ++j;
    if (j < s.size() && is_digit(s[j])) return true;
  }
  return false;
}

std::u32string process_punctuation(const std::u32string& in) {
  static const char32_t punct[] = {U';', U'/', U'[', U']', U'"', U'{', U'}', U'(', U')', U'=', U'+',
                                   U'\\', U'_', U'-', U'>', U'<', U'@', U'`', U',', U'?', U'!'};
  const bool comma_digits = has_comma_between_digits(in);
  std::u32string out = in;
  for (char32_t p : punct) {
    const std::u32string ps(1, p);
    // The test looks at the original text, the replacement acts on the running result.
    if (in.find(ps + U" ") != std::u32string::npos || in.find(U" " + ps) != std::u32string::npos || comma_digits) {
      out = replace_all(out, ps, U"");
    } else {
      out = replace_all(out, ps, U" ");
    }
  }
  // PERIOD_STRIP.sub("", out, re.UNICODE): a period not followed by a digit is dropped. re.UNICODE lands in the
  // `count` parameter, so at most 32 periods go.
  std::u32string result;
  int removed = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == U'.' && removed < 32 && !(i + 1 < out.size() && is_digit(out[i + 1]))) {
      ++removed;
      continue;
    }
    result.push_back(out[i]);
  }
  return result;
}

std::u32string process_digit_article(const std::u32string& in) {
  std::vector<std::u32string> words;
  for (auto w : python_split(python_lower(in))) {
    auto it = number_words().find(w);
    if (it != number_words().end()) w = it->second;
    if (w != U"a" && w != U"an" && w != U"the") words.push_back(w);
  }
  std::u32string out;
  for (auto& w : words) {
    auto it = contractions().find(w);
    if (it != contractions().end()) w = it->second;
    if (!out.empty()) out.push_back(U' ');
    out += w;
  }
  return out;
}

// lmms-eval's vqav2_process_results: newlines and tabs to spaces, strip, then the two EvalAI steps.
std::u32string prepare(const std::string& s, const std::string& where) {
  std::u32string t = utf8_to_u32(s, where);
  for (auto& c : t) {
    if (c == U'\n' || c == U'\t') c = U' ';
  }
  return process_digit_article(process_punctuation(python_strip(t)));
}

}  // namespace

std::string vqa_normalize_answer(const std::string& answer) {
  return u32_to_utf8(process_digit_article(process_punctuation(utf8_to_u32(answer, "answer"))));
}

double vqa_accuracy_question(const std::vector<std::string>& gold, const std::string& prediction) {
  if (gold.empty()) fail("VQA accuracy", "a question has no gold answers");
  const std::u32string pred = prepare(prediction, "prediction");
  std::vector<std::u32string> g;
  for (const auto& a : gold) g.push_back(prepare(a, "gold answer"));
  double sum = 0;
  for (size_t left_out = 0; left_out < g.size(); ++left_out) {
    int matches = 0;
    for (size_t k = 0; k < g.size(); ++k) matches += (k != left_out && g[k] == pred) ? 1 : 0;
    sum += std::min(1.0, matches / 3.0);
  }
  return sum / static_cast<double>(g.size());
}

double vqa_accuracy(const std::vector<std::vector<std::string>>& gold, const std::vector<std::string>& predictions) {
  if (gold.size() != predictions.size()) {
    fail("VQA accuracy", "the answers and predictions differ in number (" + std::to_string(gold.size()) + " vs " +
                             std::to_string(predictions.size()) + ")");
  }
  if (gold.empty()) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < gold.size(); ++i) sum += vqa_accuracy_question(gold[i], predictions[i]);
  return sum / static_cast<double>(gold.size());
}

}  // namespace g4ref::scoring
