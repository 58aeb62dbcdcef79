// The text normalizers of openai/whisper (whisper/normalizers), which lmms-eval applies before FLEURS WER/CER and
// CoVoST BLEU (claims-and-evals §3.8, §3.9).
//
// BasicTextNormalizer, complete: lowercase; drop "[…]" / "<…>" spans and "(…)" spans; NFKC, then every mark,
// symbol and punctuation character (categories M*, S*, P*) becomes a space — or, with remove_diacritics, NFKD,
// nonspacing marks (Mn) dropped, the letters œ ø æ ß ẞ đ ð þ ł (and capitals) spelled out, other M/S/P to a
// space; lowercase again; optionally every grapheme cluster separated by spaces (split_letters); whitespace runs
// to one space.
//
// EnglishTextNormalizer: every step of its __call__ in order — lowercase, bracket and parenthesis spans, the
// fillers hmm/mm/mhm/mmm/uh/um, the space before an apostrophe, its 50 contraction and title replacements (won't →
// will not, mr → mister, 's been → has been, n't → not, …), commas between digits, periods not before a digit,
// symbol and diacritic removal keeping . % $ ¢ € £, the number normalizer (english_number_normalizer.h), the
// spelling map, the final currency/percent and whitespace rules. One gap: EnglishSpellingNormalizer needs
// whisper's english.json (British → American spellings), which this project does not ship: pass it as
// `spelling_map_file` (a JSON object word → word), or no spellings change.
#pragma once

#include <map>
#include <string>

namespace g4ref::scoring {

struct BasicNormalizerOptions {
  bool remove_diacritics = false;
  bool split_letters = false;
};

std::string whisper_basic_normalize(const std::string& text, const BasicNormalizerOptions& options = {});

class EnglishTextNormalizer {
 public:
  EnglishTextNormalizer() = default;
  // Loads whisper's english.json (or any JSON object of word → replacement).
  explicit EnglishTextNormalizer(const std::string& spelling_map_file);
  std::string operator()(const std::string& text) const;

 private:
  std::map<std::u32string, std::u32string> spellings_;
};

}  // namespace g4ref::scoring
