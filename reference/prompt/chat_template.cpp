// The official Gemma 4 chat template (spec §5), statement by statement. The template runs under Jinja with
// Python values, so the pieces it relies on are reproduced here with Python's meaning: truthiness, str() of a
// value (float repr, None, True/False), str.strip()'s whitespace, str.lower() as dictsort's key, a missing
// key being Undefined (prints as "", iterates as empty, is a "sequence", raises when indexed or concatenated).
#include "prompt/chat_template.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cwctype>
#include <locale.h>

#include "base/error.h"

namespace g4ref {

namespace {

using Json = nlohmann::ordered_json;

// A value as the template sees it: a JSON value or Undefined (nullptr), with where it came from for errors.
struct Val {
  const Json* v = nullptr;
  std::string where;
  bool defined() const { return v != nullptr; }
};

const Json& none_value() {
  static const Json n = nullptr;
  return n;
}

std::string type_name(const Val& x) {
  if (!x.defined()) return "nothing (the field is missing)";
  switch (x.v->type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "a list";
    case Json::value_t::object: return "an object";
    case Json::value_t::binary: return "binary data";
    case Json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

// x['key']: a missing key (or a value that is not a mapping) gives Undefined; indexing Undefined raises.
Val item(const Val& x, const std::string& key) {
  if (!x.defined()) fail(x.where, "is missing, so its field '" + key + "' cannot be read");
  Val out{nullptr, x.where + "." + key};
  if (x.v->is_object()) {
    auto it = x.v->find(key);
    if (it != x.v->end()) out.v = &*it;
  }
  return out;
}

// x.get('key'): like item(), but a missing key gives None, not Undefined; x must be a mapping.
Val get(const Val& x, const std::string& key) {
  if (!x.defined() || !x.v->is_object()) {
    fail(x.where, "expected an object (the template calls .get('" + key + "') on it), found " + type_name(x));
  }
  auto it = x.v->find(key);
  return {it != x.v->end() ? &*it : &none_value(), x.where + "." + key};
}

bool truthy(const Val& x) {
  if (!x.defined()) return false;
  const Json& v = *x.v;
  switch (v.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return v.get<bool>();
    case Json::value_t::number_integer: return v.get<int64_t>() != 0;
    case Json::value_t::number_unsigned: return v.get<uint64_t>() != 0;
    case Json::value_t::number_float: return v.get<double>() != 0.0;
    case Json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !v.empty();
    default: return false;
  }
}

bool is_string(const Val& x) { return x.defined() && x.v->is_string(); }
bool is_mapping(const Val& x) { return x.defined() && x.v->is_object(); }
const std::string& str(const Val& x) { return x.v->get_ref<const std::string&>(); }

// --- Unicode pieces --------------------------------------------------------------------------------------------

// Decodes one code point at s[i], advancing i; a byte that starts no valid sequence stands for itself.
char32_t next_code_point(const std::string& s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + len > s.size()) len = 1;
  char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Python's str.isspace(): bidirectional class WS, B or S, or category Zs (Unicode 14, Python 3.11).
bool py_isspace(char32_t c) {
  static constexpr std::array<char32_t, 29> ws = {
      0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x1C,   0x1D,   0x1E,   0x1F,   0x20,   0x85,   0xA0,   0x1680, 0x2000, 0x2001,
      0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  return std::find(ws.begin(), ws.end(), c) != ws.end();
}

// Jinja's `| trim`: Python's str.strip() with no argument.
std::string py_strip(const std::string& s) {
  size_t b = 0;
  while (b < s.size()) {
    size_t i = b;
    if (!py_isspace(next_code_point(s, i))) break;
    b = i;
  }
  size_t e = s.size();
  while (e > b) {
    size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!py_isspace(next_code_point(s, i)) || i != e) break;
    e = start;
  }
  return s.substr(b, e - b);
}

// dictsort's key: Python's str.lower(). ASCII exactly; other letters through the C library's Unicode tables,
// with U+0130 (the one unconditional multi-character lowering) spelled out. Python's final-sigma rule is not
// applied (a key ending in a capital sigma may sort differently; no such key is known in practice).
std::u32string py_lower(const std::string& s) {
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const char32_t c = next_code_point(s, i);
    if (c < 0x80) {
      out += (c >= 'A' && c <= 'Z') ? c + 32 : c;
    } else if (c == 0x130) {
      out += U"i\u0307";
    } else if (utf8 != static_cast<locale_t>(nullptr)) {
      out += static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), utf8));
    } else {
      out += c;
    }
  }
  return out;
}

// `| upper` of a type name. Python's str.upper() is full Unicode case mapping; type names are ASCII, and any
// other text is refused rather than upper-cased approximately.
std::string py_upper(const std::string& s, const std::string& where) {
  std::string out = s;
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) >= 0x80) fail(where, "a type name with non-ASCII characters: '" + s + "'");
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
  }
  return out;
}

// --- Python's str() of a value ---------------------------------------------------------------------------------

// repr(float): the shortest digits that read back to the same double; positional notation for decimal exponents
// -4 ≤ e < 16 (with ".0" when there is no fraction), otherwise d.ddde±XX with at least two exponent digits.
std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // e.g. "-1.2345e+16", "5e-324", "0e+00"
  const size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  const int exp10 = std::stoi(sci.substr(epos + 1));
  std::string sign;
  if (!mant.empty() && mant[0] == '-') {
    sign = "-";
    mant.erase(0, 1);
  }
  std::string digits;
  for (char ch : mant) {
    if (ch != '.') digits += ch;
  }
  const int n = static_cast<int>(digits.size());
  const int decpt = exp10 + 1;  // digits d1 d2 … with the decimal point after decpt of them
  if (decpt <= -4 || decpt > 16) {
    std::string out = sign + digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    const int e = decpt - 1;
    std::string ed = std::to_string(std::abs(e));
    if (ed.size() < 2) ed = "0" + ed;
    return out + "e" + (e < 0 ? "-" : "+") + ed;
  }
  if (decpt <= 0) return sign + "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  if (decpt >= n) return sign + digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
  return sign + digits.substr(0, decpt) + "." + digits.substr(decpt);
}

std::string py_str(const Val& x);

// repr() of a string inside a printed list or mapping. Python keeps printable non-ASCII characters and escapes
// the rest by Unicode tables; those are not reproduced, so such strings are refused.
std::string py_repr_string(const std::string& s, const std::string& where) {
  const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  const char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      fail(where, "would be printed as Python's repr of a list or mapping holding non-ASCII text, which is not "
                  "reproduced; give it as a string");
    }
    if (ch == q || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + q;
}

std::string py_repr(const Val& x) {
  if (is_string(x)) return py_repr_string(str(x), x.where);
  if (x.v->is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < x.v->size(); ++i) {
      if (i) out += ", ";
      out += py_repr({&(*x.v)[i], x.where + "[" + std::to_string(i) + "]"});
    }
    return out + "]";
  }
  if (x.v->is_object()) {
    std::string out = "{";
    bool first = true;
    for (auto it = x.v->begin(); it != x.v->end(); ++it) {
      if (!first) out += ", ";
      first = false;
      out += py_repr_string(it.key(), x.where) + ": " + py_repr({&it.value(), x.where + "." + it.key()});
    }
    return out + "}";
  }
  return py_str(x);
}

// {{ x }}: str(x); Undefined prints as nothing.
std::string py_str(const Val& x) {
  if (!x.defined()) return "";
  const Json& v = *x.v;
  switch (v.type()) {
    case Json::value_t::null: return "None";
    case Json::value_t::boolean: return v.get<bool>() ? "True" : "False";
    case Json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float: return py_float_repr(v.get<double>());
    case Json::value_t::string: return v.get_ref<const std::string&>();
    case Json::value_t::array:
    case Json::value_t::object: return py_repr(x);
    default: fail(x.where, "a value the template cannot print");
  }
}

std::string upper(const Val& x) { return py_upper(py_str(x), x.where); }

// Python ==, for tool call ids: numbers and booleans compare by value across types, None equals None.
bool py_equal(const Val& a, const Val& b) {
  const auto numeric = [](const Json& v) { return v.is_number() || v.is_boolean(); };
  const auto as_double = [](const Json& v) { return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>(); };
  if (numeric(*a.v) && numeric(*b.v)) return as_double(*a.v) == as_double(*b.v);
  return *a.v == *b.v;
}

// `for x in value`: a list's items, a mapping's keys, a string's characters; Undefined iterates as empty.
std::vector<Json> iterate(const Val& x) {
  std::vector<Json> out;
  if (!x.defined()) return out;
  const Json& v = *x.v;
  if (v.is_array()) {
    out.assign(v.begin(), v.end());
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) out.emplace_back(it.key());
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    for (size_t i = 0; i < s.size();) {
      std::string one;
      append_utf8(one, next_code_point(s, i));
      out.emplace_back(one);
    }
  } else {
    fail(x.where, "expected a list, found " + type_name(x) + " (the template iterates over it)");
  }
  return out;
}

// `| dictsort`: the mapping's items ordered by Python's key.lower(), stable (ties keep their order).
std::vector<std::pair<std::string, const Json*>> dictsort(const Val& x) {
  if (!is_mapping(x)) fail(x.where, "expected an object, found " + type_name(x) + " (the template sorts its keys)");
  std::vector<std::pair<std::u32string, std::pair<std::string, const Json*>>> keyed;
  for (auto it = x.v->begin(); it != x.v->end(); ++it) keyed.push_back({py_lower(it.key()), {it.key(), &it.value()}});
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, const Json*>> out;
  for (auto& k : keyed) out.push_back(k.second);
  return out;
}

// A string operand of `+` in the template; anything else raises there.
const std::string& concat_operand(const Val& x, const std::string& what) {
  if (!is_string(x)) fail(x.where, "expected a string (" + what + "), found " + type_name(x));
  return str(x);
}

const std::string kQuote = "<|\"|>";

// --- The template's macros -------------------------------------------------------------------------------------

std::string format_argument(const Val& x, bool escape_keys) {
  if (!x.defined()) return "[]";  // Undefined passes Jinja's `is sequence` test and iterates as empty
  const Json& v = *x.v;
  if (v.is_string()) return kQuote + v.get_ref<const std::string&>() + kQuote;
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : dictsort(x)) {
      if (!first) out += ",";
      first = false;
      out += (escape_keys ? kQuote + key + kQuote : key) + ":" + format_argument({value, x.where + "." + key}, escape_keys);
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ",";
      out += format_argument({&v[i], x.where + "[" + std::to_string(i) + "]"}, escape_keys);
    }
    return out + "]";
  }
  return py_str(x);
}

// required:[<|"|>a<|"|>,…]
std::string quoted_list(const Val& x) {
  std::string out;
  const std::vector<Json> items = iterate(x);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ",";
    out += kQuote + py_str({&items[i], x.where + "[" + std::to_string(i) + "]"}) + kQuote;
  }
  return out;
}

std::string format_parameters(const Val& properties) {
  static const std::array<std::string, 5> standard_keys = {"description", "type", "properties", "required",
                                                           "nullable"};
  std::string out;
  bool found_first = false;
  for (const auto& [key, value_ptr] : dictsort(properties)) {
    if (std::find(standard_keys.begin(), standard_keys.end(), key) != standard_keys.end()) continue;
    const Val value{value_ptr, properties.where + "." + key};
    if (found_first) out += ",";
    found_first = true;
    out += key + ":{";
    bool add_comma = false;
    const auto comma = [&] {
      if (add_comma) {
        out += ",";
      } else {
        add_comma = true;
      }
    };
    const Val description = item(value, "description");
    if (truthy(description)) {
      out += "description:" + kQuote + py_str(description) + kQuote;
      add_comma = true;
    }
    const std::string type = upper(item(value, "type"));
    if (type == "STRING") {
      const Val e = item(value, "enum");
      if (truthy(e)) {
        comma();
        out += "enum:" + format_argument(e, true);
      }
    } else if (type == "ARRAY") {
      const Val items = item(value, "items");
      if (is_mapping(items) && truthy(items)) {
        comma();
        out += "items:{";
        bool items_first = false;
        for (const auto& [item_key, item_ptr] : dictsort(items)) {
          const Val iv{item_ptr, items.where + "." + item_key};
          if (iv.v->is_null()) continue;
          if (items_first) out += ",";
          items_first = true;
          if (item_key == "properties") {
            out += "properties:{" + (is_mapping(iv) ? format_parameters(iv) : std::string()) + "}";
          } else if (item_key == "required") {
            out += "required:[" + quoted_list(iv) + "]";
          } else if (item_key == "type") {
            if (is_string(iv)) {
              out += "type:" + kQuote + upper(iv) + kQuote;
            } else {
              // type:{{ format_argument(item_value | map('upper') | list) }}
              std::string list = "[";
              const std::vector<Json> names = iterate(iv);
              for (size_t i = 0; i < names.size(); ++i) {
                if (i) list += ",";
                list += kQuote + upper({&names[i], iv.where + "[" + std::to_string(i) + "]"}) + kQuote;
              }
              out += "type:" + list + "]";
            }
          } else {
            out += item_key + ":" + format_argument(iv, true);
          }
        }
        out += "}";
      }
    }
    if (truthy(item(value, "nullable"))) {
      comma();
      out += "nullable:true";
    }
    if (type == "OBJECT") {
      const Val props = item(value, "properties");
      if (is_mapping(props)) {
        comma();
        out += "properties:{" + format_parameters(props) + "}";
      } else if (is_mapping(value)) {
        // The template then lists the schema's own non-standard keys as if they were properties.
        comma();
        out += "properties:{" + format_parameters(value) + "}";
      }
      const Val required = item(value, "required");
      if (truthy(required)) {
        comma();
        out += "required:[" + quoted_list(required) + "]";
      }
    }
    comma();
    out += "type:" + kQuote + type + kQuote + "}";
  }
  return out;
}

std::string format_function_declaration(const Val& tool) {
  const Val function = item(tool, "function");
  std::string out = "declaration:" + py_str(item(function, "name")) + "{description:" + kQuote +
                    py_str(item(function, "description")) + kQuote;
  const Val params = item(function, "parameters");
  if (truthy(params)) {
    out += ",parameters:{";
    const Val props = item(params, "properties");
    if (truthy(props)) out += "properties:{" + format_parameters(props) + "},";
    const Val required = item(params, "required");
    if (truthy(required)) out += "required:[" + quoted_list(required) + "],";
    const Val type = item(params, "type");
    // As in the official template, the closing brace of parameters is only written together with a type.
    if (truthy(type)) out += "type:" + kQuote + upper(type) + kQuote + "}";
  }
  // `'response' in tool_data['function']`: a key test on a mapping (substring or membership on other values).
  bool has_response = false;
  const Json& f = *function.v;
  if (f.is_object()) {
    has_response = f.contains("response");
  } else if (f.is_string()) {
    has_response = f.get_ref<const std::string&>().find("response") != std::string::npos;
  } else if (f.is_array()) {
    has_response = std::find(f.begin(), f.end(), Json("response")) != f.end();
  } else {
    fail(function.where, "expected an object, found " + type_name(function));
  }
  if (has_response) {
    const Val response = item(function, "response");
    out += ",response:{";
    const Val description = item(response, "description");
    if (truthy(description)) out += "description:" + kQuote + py_str(description) + kQuote + ",";
    const std::string type = upper(item(response, "type"));
    if (type == "OBJECT") out += "type:" + kQuote + type + kQuote + "}";
  }
  return out + "}";
}

// Text between <|channel> and <channel|> (earlier reasoning) goes; an unclosed <|channel> drops the rest.
std::string strip_thinking(const std::string& text) {
  static const std::string close = "<channel|>", open = "<|channel>";
  std::string result;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(close, start);
    const std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const size_t o = part.find(open);
    result += o == std::string::npos ? part : part.substr(0, o);
    if (end == std::string::npos) break;
    start = end + close.size();
  }
  return py_strip(result);
}

std::string format_tool_response_block(const Val& tool_name, const Val& response) {
  const std::string& name = concat_operand(tool_name, "the tool's name after 'response:'");
  std::string out = "<|tool_response>";
  if (is_mapping(response)) {
    out += "response:" + name + "{";
    bool first = true;
    for (const auto& [key, value] : dictsort(response)) {
      if (!first) out += ",";
      first = false;
      out += key + ":" + format_argument({value, response.where + "." + key}, false);
    }
    out += "}";
  } else {
    out += "response:" + name + "{value:" + format_argument(response, false) + "}";
  }
  return out + "<tool_response|>";
}

std::string role_of(const Json& message) { return message.at("role").get<std::string>(); }

// A text part's text: model turns strip earlier reasoning (the text must be a string), other turns trim str().
std::string turn_text(const Val& text, bool model) {
  if (model) return strip_thinking(concat_operand(text, "the template splits it on '<channel|>'"));
  return py_strip(py_str(text));
}

}  // namespace

std::string render_chat(const Json& messages, const ChatOptions& o) {
  if (!messages.is_array()) fail("messages", "expected a list of messages");
  // The template reads messages[0]['role'], and every message's role is concatenated into its turn header
  // (a tool message's is compared only, but any message without a string role makes the template raise).
  if (messages.empty()) fail("messages", "the list is empty (the template reads messages[0])");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!messages[i].is_object()) fail(where, "expected an object (a message)");
    if (!messages[i].contains("role")) fail(where + ".role", "is missing");
    if (!messages[i].at("role").is_string()) fail(where + ".role", "expected a string");
  }
  if (!o.tools.is_array() && !o.tools.is_null()) fail("tools", "expected a list of function declarations");
  const bool has_tools = o.tools.is_array() && !o.tools.empty();

  std::string out = o.bos_token;
  std::string prev_type;  // ns.prev_message_type; "" is None
  size_t first = 0;
  const std::string role0 = role_of(messages[0]);
  const bool first_is_system = role0 == "system" || role0 == "developer";
  if (o.thinking || has_tools || first_is_system) {
    out += "<|turn>system\n";
    if (o.thinking) {
      out += "<|think|>\n";
      prev_type = "think";
    }
    if (first_is_system) {
      const Val content = item({&messages[0], "messages[0]"}, "content");
      if (content.defined() && (content.v->is_array() || content.v->is_object())) {
        // The template would print Python's repr of the parts; refused rather than imitated.
        fail(content.where, "system content must be a string (the template would write Python's repr of a " +
                                std::string(content.v->is_array() ? "list" : "mapping") + ")");
      }
      out += py_strip(py_str(content));
      first = 1;
    }
    if (has_tools) {
      for (size_t t = 0; t < o.tools.size(); ++t) {
        const Val tool{&o.tools[t], "tools[" + std::to_string(t) + "]"};
        out += "<|tool>" + py_strip(format_function_declaration(tool)) + "<tool|>";
      }
      prev_type = "tool";
    }
    out += "<turn|>\n";
  }

  // loop_messages = messages[first:]; indices below are positions in it, as in the template.
  const size_t n = messages.size() - first;
  const auto at = [&](size_t j) -> const Json& { return messages[first + j]; };
  const auto where_of = [&](size_t j) { return "messages[" + std::to_string(first + j) + "]"; };
  long last_user = -1;
  for (size_t j = 0; j < n; ++j) {
    if (role_of(at(j)) == "user") last_user = static_cast<long>(j);
  }

  for (size_t j = 0; j < n; ++j) {
    const Json& m = at(j);
    const Val msg{&m, where_of(j)};
    const std::string raw_role = role_of(m);
    if (raw_role == "tool") continue;  // rendered inside the model turn of the calls it answers
    prev_type.clear();
    const std::string role = raw_role == "assistant" ? "model" : raw_role;
    std::string prev_role;
    for (size_t k = j; k-- > 0;) {
      if (role_of(at(k)) != "tool") {
        prev_role = role_of(at(k));
        break;
      }
    }
    const bool continue_same_model_turn = role == "model" && prev_role == "assistant";
    if (!continue_same_model_turn) out += "<|turn>" + role + "\n";

    // Reasoning is kept only for the turns after the last user message that call tools.
    Val thinking = get(msg, "reasoning");
    if (!truthy(thinking)) thinking = get(msg, "reasoning_content");
    const Val tool_calls = item(msg, "tool_calls");
    if (truthy(thinking) && static_cast<long>(j) > last_user && truthy(get(msg, "tool_calls"))) {
      out += "<|channel>thought\n" + concat_operand(thinking, "reasoning text") + "\n<channel|>";
    }

    const std::vector<Json> calls = truthy(tool_calls) ? iterate(tool_calls) : std::vector<Json>{};
    for (size_t c = 0; c < calls.size(); ++c) {
      const Val call{&calls[c], tool_calls.where + "[" + std::to_string(c) + "]"};
      const Val function = item(call, "function");
      out += "<|tool_call>call:" + concat_operand(item(function, "name"), "the function name after 'call:'") + "{";
      const Val args = item(function, "arguments");
      if (is_mapping(args)) {
        bool first_arg = true;
        for (const auto& [key, value] : dictsort(args)) {
          if (!first_arg) out += ",";
          first_arg = false;
          out += key + ":" + format_argument({value, args.where + "." + key}, false);
        }
      } else if (is_string(args)) {
        out += str(args);  // arguments given as text are written as they are
      }
      out += "}<tool_call|>";
      prev_type = "tool_call";
    }

    bool responses_out = false;
    const Val legacy = get(msg, "tool_responses");
    if (truthy(legacy)) {
      // Responses carried on the assistant message itself (the Gemma-native form).
      const std::vector<Json> responses = iterate(legacy);
      for (size_t r = 0; r < responses.size(); ++r) {
        const Val resp{&responses[r], legacy.where + "[" + std::to_string(r) + "]"};
        Val name = item(resp, "name");
        static const Json unknown = "unknown";
        if (!name.defined()) name.v = &unknown;
        out += format_tool_response_block(name, item(resp, "response"));
        responses_out = true;
        prev_type = "tool_response";
      }
    } else if (truthy(get(msg, "tool_calls"))) {
      // The following role:tool messages answer these calls; each is named by its tool_call_id's call.
      for (size_t k = j + 1; k < n && role_of(at(k)) == "tool"; ++k) {
        const Val follow{&at(k), where_of(k)};
        Val name = get(follow, "name");
        const Val call_id = get(follow, "tool_call_id");
        for (size_t c = 0; c < calls.size(); ++c) {
          const Val call{&calls[c], tool_calls.where + "[" + std::to_string(c) + "]"};
          if (py_equal(get(call, "id"), call_id)) name = item(item(call, "function"), "name");
        }
        if (!is_string(name)) {
          fail(follow.where, "a tool response needs a name: no tool call of " + msg.where +
                                 " has its tool_call_id and it has no string 'name' (found " + type_name(name) + ")");
        }
        const Val body = get(follow, "content");
        if (is_string(body)) {
          out += format_tool_response_block(name, body);
        } else if (body.v->is_array() || body.v->is_object()) {
          std::string joined;
          const std::vector<Json> body_parts = iterate(body);
          for (size_t p = 0; p < body_parts.size(); ++p) {
            const Val part{&body_parts[p], body.where + "[" + std::to_string(p) + "]"};
            const Val type = get(part, "type");
            if (is_string(type) && str(type) == "text") {
              joined += concat_operand(get(part, "text"), "a text part's text");
            }
          }
          const Json text = joined;
          out += format_tool_response_block(name, {&text, body.where});
        } else {
          out += format_tool_response_block(name, body);
        }
        responses_out = true;
        prev_type = "tool_response";
      }
    }

    const Val content = item(msg, "content");
    const bool model = role == "model";
    if (is_string(content)) {
      out += turn_text(content, model);
    } else if (!content.defined() || content.v->is_array() || content.v->is_object()) {
      const std::vector<Json> items = iterate(content);
      for (size_t p = 0; p < items.size(); ++p) {
        const Val part{&items[p], content.where + "[" + std::to_string(p) + "]"};
        const Val type = item(part, "type");
        if (!is_string(type)) continue;
        const std::string& t = str(type);
        if (t == "text") {
          out += turn_text(item(part, "text"), model);
        } else if (t == "image" || t == "audio" || t == "video") {
          out += "<|" + t + "|>";
          prev_type = t;
        }
      }
    }

    if (prev_type == "tool_call" && !responses_out) {
      out += "<|tool_response>";  // the model is expected to continue with the response
    } else if (!(responses_out && !truthy(get(msg, "content")))) {
      out += "<turn|>\n";
    }
  }

  if (o.add_generation_prompt && prev_type != "tool_response" && prev_type != "tool_call") {
    out += "<|turn>model\n";
    // The 12B/26B/31B templates pre-close an empty thought channel when thinking is off (spec §5).
    if (!o.thinking) out += "<|channel>thought\n<channel|>";
  }
  return out;
}

Message Message::text(std::string role, std::string text) {
  Message m;
  m.role = std::move(role);
  m.content.push_back({ContentItem::Kind::text, std::move(text)});
  return m;
}

Json to_message_json(const std::vector<Message>& messages) {
  Json list = Json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    Json j = Json::object();
    j["role"] = m.role;
    const bool text_only = std::all_of(m.content.begin(), m.content.end(),
                                       [](const ContentItem& c) { return c.kind == ContentItem::Kind::text; });
    if (text_only) {
      std::string s;
      for (const auto& c : m.content) s += c.text;
      j["content"] = s;
    } else {
      if (m.role == "system" || m.role == "developer") {
        fail("messages[" + std::to_string(i) + "].content", "a " + m.role + " message holds text only");
      }
      Json parts = Json::array();
      for (const auto& c : m.content) {
        switch (c.kind) {
          case ContentItem::Kind::text: parts.push_back({{"type", "text"}, {"text", c.text}}); break;
          case ContentItem::Kind::image: parts.push_back({{"type", "image"}}); break;
          case ContentItem::Kind::audio: parts.push_back({{"type", "audio"}}); break;
          case ContentItem::Kind::video: parts.push_back({{"type", "video"}}); break;
        }
      }
      j["content"] = parts;
    }
    if (!m.tool_calls.empty()) {
      Json calls = Json::array();
      for (const auto& c : m.tool_calls) {
        calls.push_back({{"type", "function"}, {"function", {{"name", c.name}, {"arguments", Json(c.arguments)}}}});
      }
      j["tool_calls"] = calls;
    }
    if (!m.tool_name.empty()) j["name"] = m.tool_name;
    list.push_back(j);
  }
  return list;
}

std::string render_chat(const std::vector<Message>& messages, const ChatOptions& options) {
  return render_chat(to_message_json(messages), options);
}

}  // namespace g4ref
