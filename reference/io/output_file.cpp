#include "io/output_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "io/mapped_file.h"

namespace g4ref {

namespace fs = std::filesystem;

void check_output_path(const std::string& path, bool create_parent) {
  if (path.empty()) fail("output", "the output path is empty");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const fs::path target = fs::read_symlink(path, ec);
      fail(path, "is a symbolic link (to " + (ec ? std::string("an unreadable target") : target.string()) +
                     "); writing would replace the link, not its target: name the target itself");
    }
    if (S_ISDIR(st.st_mode)) fail(path, "is a directory; an output file needs a file name");
    if (!S_ISREG(st.st_mode)) fail(path, "exists and is not a regular file (a device, FIFO or socket); refusing to replace it");
    if (mapped_file_is_open(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino))) {
      fail(path, "is an input this command is reading; refusing to write over it");
    }
  } else if (errno != ENOENT) {
    fail(path, std::string("cannot inspect the output path: ") + std::strerror(errno));
  }
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  if (fs::is_directory(parent, ec)) return;
  if (fs::exists(parent, ec)) fail(path, "its directory " + parent.string() + " is not a directory");
  if (!create_parent) fail(path, "its directory " + parent.string() + " does not exist");
  const fs::path grandparent = parent.parent_path();
  if (!grandparent.empty() && !fs::is_directory(grandparent, ec)) {
    fail(path, "neither its directory " + parent.string() + " nor that directory's parent exists; only the final "
               "directory is created");
  }
  if (!fs::create_directory(parent, ec) && ec) fail(parent.string(), "cannot create the directory: " + ec.message());
}

OutputFile::OutputFile(std::string path, bool create_parent) : path_(std::move(path)), partial_(path_ + ".partial") {
  check_output_path(path_, create_parent);
  struct stat st {};
  if (::lstat(partial_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    fail(partial_, "exists and is not a regular file; refusing to use it as the temporary file");
  }
  out_ = std::fopen(partial_.c_str(), "wb");
  if (!out_) fail(partial_, std::string("cannot create: ") + std::strerror(errno));
}

OutputFile::~OutputFile() {
  if (!committed_) discard();
}

void OutputFile::discard() noexcept {
  if (out_) std::fclose(out_);
  out_ = nullptr;
  if (!committed_) std::remove(partial_.c_str());
}

void OutputFile::write(const void* data, size_t n) {
  if (!out_) fail(path_, committed_ ? "write after commit()" : "write after discard()");
  if (n && std::fwrite(data, 1, n, out_) != n) fail(partial_, std::string("write failed: ") + std::strerror(errno));
}

void OutputFile::commit() {
  if (!out_) fail(path_, committed_ ? "commit() called twice" : "commit() after discard()");
  // Flush and sync before the rename so the final name never points at data still only in memory.
  if (std::fflush(out_) != 0) {
    const int err = errno;
    discard();
    fail(partial_, std::string("cannot write: ") + std::strerror(err));
  }
  if (::fsync(fileno(out_)) != 0) {
    const int err = errno;
    discard();
    fail(partial_, std::string("cannot fsync: ") + std::strerror(err));
  }
  std::FILE* f = out_;
  out_ = nullptr;
  if (std::fclose(f) != 0) {
    const int err = errno;
    discard();
    fail(partial_, std::string("cannot close: ") + std::strerror(err));
  }
  // The destination may have changed since the constructor looked (the checks are cheap; do them again).
  check_output_path(path_);
  if (std::rename(partial_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    discard();
    fail(path_, "cannot rename " + partial_ + " into place: " + std::strerror(err));
  }
  committed_ = true;
}

void write_file_atomically(const std::string& path, const std::string& bytes, bool create_parent) {
  OutputFile out(path, create_parent);
  out.write(bytes);
  out.commit();
}

}  // namespace g4ref
