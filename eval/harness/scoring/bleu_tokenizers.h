// sacreBLEU 2.6.0's tokenizers, on code points:
//   13a   mteval-v13a: unescape &quot; &amp; &lt; &gt;, drop <skipped>, pad with spaces, split off punctuation and
//         symbols, periods and commas unless next to a digit, dashes after a digit
//   intl  mteval-v14 international: punctuation (\p{P}) not next to a number (\p{N}), every symbol (\p{S})
//   zh    every CJK character in sacreBLEU's range table on its own, then the 13a regular expressions. The table's
//         two supplementary entries are written '\u20000' and '\u2f800' in its source, which Python reads as
//         U+2000 followed by "0": the ranges it really tests are U+2001–U+2A6D and U+2F81–U+2FA1, and so here.
//   char  every character a token
//   none  the line as it is
// The result is the tokenized line; BLEU splits it on whitespace.
#pragma once

#include <string>

namespace g4ref::scoring {

// Throws for an unknown name (ja-mecab, ko-mecab, spm and flores need models this project does not carry).
std::u32string bleu_tokenize(const std::u32string& line, const std::string& tokenizer);
bool is_known_bleu_tokenizer(const std::string& tokenizer);

}  // namespace g4ref::scoring
