#include "conf/file_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "conf/ast.h"

namespace tg::conf {
namespace {

TEST(FileSource, SnapshotOfARecordingParsesTheSameTree) {
  std::string pattern = (std::filesystem::temp_directory_path() / "tg-files-XXXXXX").string();
  const std::string dir = ::mkdtemp(pattern.data());
  std::filesystem::create_directories(dir + "/d");
  std::ofstream(dir + "/d/b.conf") << "b 2;\n";
  std::ofstream(dir + "/d/a.conf") << "a 1;\n";
  std::ofstream(dir + "/main.conf") << "include d/*.conf;\nc 3;\n";
  RecordingFiles recording;
  ParseOptions options;
  options.conf_prefix = dir;
  options.files = &recording;
  const std::string from_disk = dump(parse_file(dir + "/main.conf", options));
  EXPECT_EQ(from_disk, "a 1;\nb 2;\nc 3;\n");
  std::filesystem::remove_all(dir);  // the snapshot needs no disk

  SnapshotFiles snapshot(recording.reads, recording.globs);
  options.files = &snapshot;
  EXPECT_EQ(dump(parse_file(dir + "/main.conf", options)), from_disk);
  try {
    parse_file(dir + "/other.conf", options);
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "open() \"" + dir + "/other.conf\" failed (2: No such file or directory)");
  }
}

}  // namespace
}  // namespace tg::conf
