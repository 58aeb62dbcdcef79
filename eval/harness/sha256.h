// SHA-256 (FIPS 180-4) for the digests the harness records: rendered prompts, task files, datasets. A digest,
// not a security boundary: it proves that two runs read the same bytes.
#pragma once

#include <string>

namespace g4ref {

std::string sha256_hex(const std::string& bytes);  // 64 lowercase hex digits

}  // namespace g4ref
