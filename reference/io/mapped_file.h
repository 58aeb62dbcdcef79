// A whole file mapped read-only into memory: checkpoints are tens of gigabytes, so tensors are read in
// place from the page cache instead of being copied into the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace g4ref {

class MappedFile {
 public:
  // Maps PATH read-only (shared, so several processes share one copy in the page cache).
  // An empty file is allowed: size() is 0 and data() is nullptr.
  static MappedFile open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const std::byte* data, size_t size, uint64_t device, uint64_t inode);
  void unmap() noexcept;

  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  uint64_t device_ = 0, inode_ = 0;  // identity of the mapped file, registered while it is mapped
};

// Whether a file this process has mapped (and not unmapped) has this device and inode: outputs refuse to replace
// an input (io/output_file.h).
bool mapped_file_is_open(uint64_t device, uint64_t inode);

}  // namespace g4ref
