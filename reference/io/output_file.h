// Every file g4ref writes goes through OutputFile: the bytes go to PATH.partial beside the destination, which is
// flushed, synced and renamed over PATH only by commit(), so a destination is always either whole or untouched.
// An OutputFile destroyed before commit() removes its partial file.
//
// Before anything is written the destination is checked, and each refusal names the path and the reason:
//   * it must not be a file this process is reading (a mapped checkpoint, GGUF or trace: MappedFile registers
//     what it maps), so `trace --out DIR/model.safetensors` cannot replace the model it is running;
//   * if it exists it must be a regular file: a device (/dev/full), directory, FIFO or socket is refused, since a
//     rename would replace the node itself;
//   * it must not be a symbolic link: renaming over a link replaces the link, not the file it points to, which is
//     never what was meant;
//   * only its final directory may be created (create_parent); a missing grandparent is an error, so a mistyped
//     path does not grow a tree of directories.
#pragma once

#include <cstdio>
#include <string>

namespace g4ref {

// The checks above without writing anything; throws g4ref::Error. CREATE_PARENT: make the final directory if it
// is missing (its own parent must exist).
void check_output_path(const std::string& path, bool create_parent = false);

class OutputFile {
 public:
  explicit OutputFile(std::string path, bool create_parent = false);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();

  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  std::FILE* stream() { return out_; }  // for writers that use stdio directly; errors are caught at commit()
  // Flushes, fsyncs, closes and renames the partial file over the destination.
  void commit();
  // Removes the partial file now (the destructor does it too).
  void discard() noexcept;

  const std::string& path() const { return path_; }
  const std::string& partial_path() const { return partial_; }
  bool committed() const { return committed_; }

 private:
  std::string path_, partial_;
  std::FILE* out_ = nullptr;
  bool committed_ = false;
};

// The whole of BYTES to PATH through an OutputFile.
void write_file_atomically(const std::string& path, const std::string& bytes, bool create_parent = false);

}  // namespace g4ref
