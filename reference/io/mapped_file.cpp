#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "base/error.h"

namespace g4ref {

namespace {

[[noreturn]] void fail_errno(const std::string& path, const std::string& action, int err) {
  fail(path, action + ": " + std::strerror(err));
}

// Closes the descriptor on every path out of open(); the mapping stays valid after close.
struct FdGuard {
  int fd;
  ~FdGuard() { ::close(fd); }
};

// Device and inode of every mapped file, counted (one file may be mapped twice).
std::mutex registry_mutex;
std::multiset<std::pair<uint64_t, uint64_t>>& registry() {
  static std::multiset<std::pair<uint64_t, uint64_t>> r;
  return r;
}

void register_file(uint64_t device, uint64_t inode) {
  if (device == 0 && inode == 0) return;
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry().insert({device, inode});
}

void unregister_file(uint64_t device, uint64_t inode) noexcept {
  if (device == 0 && inode == 0) return;
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry().find({device, inode});
  if (it != registry().end()) registry().erase(it);
}

}  // namespace

bool mapped_file_is_open(uint64_t device, uint64_t inode) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  return registry().count({device, inode}) > 0;
}

MappedFile::MappedFile(std::string path, const std::byte* data, size_t size, uint64_t device, uint64_t inode)
    : path_(std::move(path)), data_(data), size_(size), device_(device), inode_(inode) {
  register_file(device_, inode_);
}

MappedFile MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "cannot open", errno);
  FdGuard guard{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno(path, "cannot stat", errno);
  // mmap of a directory or device would fail with a confusing errno; say what is wrong instead.
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");

  const size_t size = static_cast<size_t>(st.st_size);
  const auto device = static_cast<uint64_t>(st.st_dev), inode = static_cast<uint64_t>(st.st_ino);
  if (size == 0) return MappedFile(path, nullptr, 0, device, inode);  // mmap rejects a zero length

  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) fail_errno(path, "cannot mmap " + std::to_string(size) + " bytes", errno);
  return MappedFile(path, static_cast<const std::byte*>(p), size, device, inode);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      device_(std::exchange(other.device_, 0)),
      inode_(std::exchange(other.inode_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    device_ = std::exchange(other.device_, 0);
    inode_ = std::exchange(other.inode_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { unmap(); }

void MappedFile::unmap() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  unregister_file(std::exchange(device_, 0), std::exchange(inode_, 0));
}

}  // namespace g4ref
