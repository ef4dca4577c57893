// Where the conf parser reads files from: the disk, or a snapshot of what a
// privileged process read on its behalf (app/privileged_helper.h), so that a
// server that dropped its privileges parses exactly the files root read.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tg::conf {

class FileSource {
 public:
  virtual ~FileSource() = default;
  /// Reads a whole file. On failure returns false with nginx's words in
  /// `error`: `open() "/x" failed (2: No such file or directory)`.
  virtual bool read(const std::string& path, std::string& text, std::string& error) = 0;
  /// Expands a glob(3) pattern to its sorted matches (none is not an error).
  /// On failure returns false with nginx's words in `error`.
  virtual bool glob(const std::string& pattern, std::vector<std::string>& matches,
                    std::string& error) = 0;
};

/// The file system.
FileSource& disk_files();

/// The file system, remembering every successful read and glob in order.
class RecordingFiles : public FileSource {
 public:
  bool read(const std::string& path, std::string& text, std::string& error) override;
  bool glob(const std::string& pattern, std::vector<std::string>& matches,
            std::string& error) override;

  std::vector<std::pair<std::string, std::string>> reads;               ///< path, text
  std::vector<std::pair<std::string, std::vector<std::string>>> globs;  ///< pattern, matches
};

/// Answers from a recording: the same reads and globs give the same results;
/// anything else is "not found".
class SnapshotFiles : public FileSource {
 public:
  SnapshotFiles(std::vector<std::pair<std::string, std::string>> reads,
                std::vector<std::pair<std::string, std::vector<std::string>>> globs)
      : reads_(std::move(reads)), globs_(std::move(globs)) {}
  bool read(const std::string& path, std::string& text, std::string& error) override;
  bool glob(const std::string& pattern, std::vector<std::string>& matches,
            std::string& error) override;

 private:
  std::vector<std::pair<std::string, std::string>> reads_;
  std::vector<std::pair<std::string, std::vector<std::string>>> globs_;
};

}  // namespace tg::conf
