// Proves the power-cut model (PowerLayer) against a plain model of durability, over random
// sequences of writes, truncations, fsyncs, directory fsyncs, unlinks, renames and cuts:
// between cuts the tree reads as what was written, and after each cut it reads as exactly
// what was synced — every file's content as of its inode's last fsync, and the names as of
// the directory's last fsync. (The FUSE process serving it is proved in
// tests/integration/powerfs_test.cc.)
#include "harness/real/power_layer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

namespace fs = std::filesystem;
using harness::PowerLayer;

struct Inode {
  std::string current, durable;
};

// The model: names to inodes, now and as last synced.
struct Model {
  std::vector<Inode> inodes;
  std::map<std::string, size_t> names, durable_names;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The tree under root equals these names and contents.
void ExpectTree(const fs::path& root, const std::map<std::string, size_t>& names,
                const Model& m, bool durable) {
  std::map<std::string, std::string> seen, want;
  for (const auto& e : fs::directory_iterator(root))
    seen[e.path().filename().string()] = ReadFile(e.path());
  for (const auto& [name, ino] : names)
    want[name] = durable ? m.inodes[ino].durable : m.inodes[ino].current;
  RC_ASSERT(seen == want);
}

RC_GTEST_PROP(PowerLayerModel, AfterEveryCutTheTreeIsExactlyWhatWasSynced, ()) {
  TempDir dir;
  PowerLayer layer(dir.path());
  const fs::path root = dir.path() / "root";
  Model m;
  const std::vector<std::string> kNames = {"a", "b", "c"};
  const int steps = *rc::gen::inRange(1, 60);
  for (int step = 0; step < steps; ++step) {
    const std::string name = *rc::gen::elementOf(kNames);
    const bool exists = m.names.count(name) > 0;
    switch (*rc::gen::inRange(0, 8)) {
      case 0:
      case 1: {  // a write, making the file if it is missing
        const size_t size = exists ? m.inodes[m.names[name]].current.size() : 0;
        const size_t off = *rc::gen::inRange<size_t>(0, size + 8);
        const std::string bytes(*rc::gen::inRange<size_t>(1, 40),
                                static_cast<char>(*rc::gen::inRange('a', 'z')));
        const int fd = layer.Open(name, O_WRONLY | O_CREAT, 0644);
        RC_ASSERT(fd >= 0);
        RC_ASSERT(layer.Write(fd, bytes.data(), bytes.size(), static_cast<off_t>(off)) ==
                  static_cast<ssize_t>(bytes.size()));
        close(fd);
        if (!exists) {
          m.names[name] = m.inodes.size();
          m.inodes.push_back({});
        }
        std::string& c = m.inodes[m.names[name]].current;
        if (c.size() < off + bytes.size()) c.resize(off + bytes.size(), '\0');
        c.replace(off, bytes.size(), bytes);
        break;
      }
      case 2: {  // a truncation, shorter or longer
        if (!exists) break;
        const size_t size = *rc::gen::inRange<size_t>(0, 80);
        RC_ASSERT(layer.TruncatePath(name, static_cast<off_t>(size)) == 0);
        m.inodes[m.names[name]].current.resize(size, '\0');
        break;
      }
      case 3: {  // a file's fsync
        if (!exists) break;
        const int fd = layer.Open(name, O_RDONLY, 0);
        RC_ASSERT(fd >= 0);
        RC_ASSERT(layer.Fsync(fd) == 0);
        close(fd);
        Inode& i = m.inodes[m.names[name]];
        i.durable = i.current;
        break;
      }
      case 4:  // the directory's fsync
        RC_ASSERT(layer.FsyncDir("/") == 0);
        m.durable_names = m.names;
        break;
      case 5:
        if (!exists) break;
        RC_ASSERT(layer.Unlink(name) == 0);
        m.names.erase(name);
        break;
      case 6: {
        const std::string to = *rc::gen::elementOf(kNames);
        if (!exists || to == name) break;
        RC_ASSERT(layer.Rename(name, to, 0) == 0);
        m.names[to] = m.names[name];
        m.names.erase(name);
        break;
      }
      case 7: {  // the power cut
        const auto report = layer.Cut();
        RC_ASSERT(report.errors == 0);
        m.names = m.durable_names;
        for (Inode& i : m.inodes) i.current = i.durable;
        ExpectTree(root, m.names, m, true);
        break;
      }
    }
    ExpectTree(root, m.names, m, false);
  }
  RC_ASSERT(layer.Cut().errors == 0);
  ExpectTree(root, m.durable_names, m, true);
}

TEST(RangeBytes, EraseSplitsAndUncoveredFindsTheGaps) {
  harness::RangeBytes r;
  r.Put(10, "abcdefghij");  // 10..20
  r.Put(30, "0123456789");  // 30..40
  EXPECT_EQ(r.Uncovered(0, 50), (std::vector<std::pair<off_t, off_t>>{{0, 10}, {20, 30}, {40, 50}}));
  r.Erase(15, 35);
  EXPECT_EQ(r.bytes(), 10);
  ASSERT_EQ(r.ranges().size(), 2u);
  EXPECT_EQ(r.ranges().at(10), "abcde");
  EXPECT_EQ(r.ranges().at(35), "56789");
  EXPECT_EQ(r.Uncovered(12, 36), (std::vector<std::pair<off_t, off_t>>{{15, 35}}));
}

}  // namespace
}  // namespace ithappens::testing
