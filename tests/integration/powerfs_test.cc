// Proves the power-cut file system (ithappens-powerfs, mounted for real over FUSE) on its
// own, without the engine: after a cut, what was synced is there and nothing else — an
// unsynced write is gone and a synced one stays, a new file or a rename or an unlink is
// durable only once its directory is synced, many files written at once, large files, a
// cut while a write is running, and the fsyncgate fault (a failed fsync's data is lost
// even when a later fsync succeeds). The mount and the process are gone after SIGTERM and
// after SIGKILL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness/real/power_control.h"
#include "harness/real/supervisor.h"
#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

namespace fs = std::filesystem;
using harness::PowerControl;
using harness::ProcessSpec;
using harness::Supervisor;

// One mounted power-cut file system: mnt() is the tree, Cut() the power cut.
class PowerFs : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness::FuseAvailable().ok())
        << harness::FuseAvailable().ToString() << " — this machine kind has FUSE";
    fs::create_directories(dir_.path() / "disk");
    fs::create_directories(mnt());
    const std::string port_file = (dir_.path() / "powerfs.port").string();
    spec_ = ProcessSpec{"powerfs",
                        {BinPath("ithappens-powerfs"), "--backing", (dir_.path() / "disk").string(),
                         "--mount", mnt().string(), "--port-file", port_file, "--log",
                         (dir_.path() / "logs" / "powerfs.log").string()},
                        port_file};
    ASSERT_TRUE(sup_.Start(spec_).ok());
    ASSERT_TRUE(harness::IsMountPoint(mnt().string()));
    control_ = std::make_unique<PowerControl>(sup_.Port("powerfs"));
  }
  void TearDown() override {
    const pid_t pid = sup_.Pid("powerfs");
    if (pid > 0) {
      auto ended = sup_.Kill("powerfs", SIGTERM);
      ASSERT_TRUE(ended.ok());
      EXPECT_TRUE(ended->exited && ended->code == 0) << ended->ToString();
    }
    EXPECT_FALSE(harness::IsMountPoint(mnt().string())) << "SIGTERM unmounts it";
    EXPECT_EQ(Pgrep("ithappens-powerfs").count(pid), 0u);
  }

  fs::path mnt() const { return dir_.path() / "mnt"; }
  std::string P(const std::string& name) const { return (mnt() / name).string(); }

  nlohmann::json Cut() {
    auto r = control_->Cut();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nlohmann::json{};
  }

  TempDir dir_;
  Supervisor sup_{dir_.path() / "logs"};
  ProcessSpec spec_;
  std::unique_ptr<PowerControl> control_;
};

void Append(const std::string& path, const std::string& bytes, bool sync) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  if (sync) {
    ASSERT_EQ(fsync(fd), 0);
  }
  close(fd);
}

void WriteAt(const std::string& path, const std::string& bytes, off_t off, bool sync) {
  const int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), off), static_cast<ssize_t>(bytes.size()));
  if (sync) {
    ASSERT_EQ(fsync(fd), 0);
  }
  close(fd);
}

void SyncDir(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(PowerFs, AnUnsyncedWriteIsGoneAfterACutAndASyncedOneStays) {
  Append(P("a"), "synced|", true);
  SyncDir(mnt().string());
  Append(P("a"), "appended, never synced", false);
  WriteAt(P("a"), "OVER", 0, false);
  EXPECT_EQ(Read(P("a")), "OVERed|appended, never synced") << "before the cut it reads back";
  const auto cut = Cut();
  EXPECT_EQ(Read(P("a")), "synced|");
  EXPECT_EQ(cut["files_reverted"], 1);
  EXPECT_EQ(cut["bytes_dropped"], 22 + 4);
  EXPECT_EQ(cut["errors"], 0);
  // A second cut has nothing left to undo.
  EXPECT_EQ(Cut()["bytes_dropped"], 0);
  EXPECT_EQ(Read(P("a")), "synced|");
}

TEST_F(PowerFs, ANewFileIsDurableOnlyOnceItsDirectoryIsSynced) {
  fs::create_directories(P("d"));
  SyncDir(mnt().string());
  Append(P("d/kept"), "x", true);
  SyncDir(P("d"));
  Append(P("d/lost"), "fsynced, but its name never was", true);
  ASSERT_TRUE(fs::exists(P("d/lost")));
  const auto cut = Cut();
  EXPECT_TRUE(fs::exists(P("d/kept")));
  EXPECT_EQ(Read(P("d/kept")), "x");
  EXPECT_FALSE(fs::exists(P("d/lost")));
  EXPECT_EQ(cut["entries_undone"], 1);
  // A directory made and never synced in its parent goes with everything in it.
  fs::create_directories(P("new/deeper"));
  Append(P("new/deeper/f"), "y", true);
  SyncDir(P("new/deeper"));
  SyncDir(P("new"));
  Cut();
  EXPECT_FALSE(fs::exists(P("new")));
}

TEST_F(PowerFs, ARenameIsDurableOnlyAfterTheDirectorysFsync) {
  Append(P("config"), "old", true);
  SyncDir(mnt().string());
  // The atomic-replace pattern: write a temporary, sync it, rename it over the target.
  Append(P("config.tmp"), "new", true);
  ASSERT_EQ(rename(P("config.tmp").c_str(), P("config").c_str()), 0);
  EXPECT_EQ(Read(P("config")), "new");
  Cut();
  EXPECT_EQ(Read(P("config")), "old") << "the rename was not durable: the old file is back";
  EXPECT_FALSE(fs::exists(P("config.tmp"))) << "and the temporary's name never was durable";

  Append(P("config.tmp"), "new", true);
  ASSERT_EQ(rename(P("config.tmp").c_str(), P("config").c_str()), 0);
  SyncDir(mnt().string());
  Cut();
  EXPECT_EQ(Read(P("config")), "new");
  EXPECT_FALSE(fs::exists(P("config.tmp")));
}

TEST_F(PowerFs, AnUnlinkIsUndoneUntilTheDirectoryIsSynced) {
  Append(P("journal"), "hot", true);
  SyncDir(mnt().string());
  ASSERT_EQ(unlink(P("journal").c_str()), 0);
  Cut();
  EXPECT_EQ(Read(P("journal")), "hot") << "an unlink not synced comes back";
  ASSERT_EQ(unlink(P("journal").c_str()), 0);
  SyncDir(mnt().string());
  Cut();
  EXPECT_FALSE(fs::exists(P("journal")));
}

TEST_F(PowerFs, ManyFilesWrittenAtOnceKeepExactlyWhatEachSynced) {
  constexpr int kFiles = 8, kBlocks = 200;
  std::vector<size_t> synced(kFiles, 0);
  std::vector<std::string> written(kFiles);
  std::vector<std::thread> writers;
  for (int f = 0; f < kFiles; ++f) {
    writers.emplace_back([&, f] {
      const std::string path = P("f" + std::to_string(f));
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
      for (int b = 0; b < kBlocks; ++b) {
        const std::string block(100 + (b * 37 + f) % 900, static_cast<char>('a' + (b + f) % 26));
        if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) return;
        written[f] += block;
        if ((b + f) % 7 == 0 && b + 1 < kBlocks && fsync(fd) == 0) synced[f] = written[f].size();
      }
      close(fd);
    });
  }
  for (auto& t : writers) t.join();
  SyncDir(mnt().string());
  const auto cut = Cut();
  EXPECT_EQ(cut["errors"], 0);
  for (int f = 0; f < kFiles; ++f) {
    ASSERT_GT(synced[f], 0u);
    ASSERT_LT(synced[f], written[f].size()) << "some of it was not synced";
    EXPECT_EQ(Read(P("f" + std::to_string(f))), written[f].substr(0, synced[f])) << "file " << f;
  }
}

TEST_F(PowerFs, ALargeFileKeepsItsSyncedPrefixAndLosesAnUnsyncedOverwrite) {
  constexpr size_t kMiB = 1 << 20;
  std::string first, second;
  for (size_t k = 0; k < 48; ++k) first += std::string(kMiB, static_cast<char>('A' + k % 26));
  const int fd = open(P("big").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  for (size_t off = 0; off < 32 * kMiB; off += kMiB)
    ASSERT_EQ(pwrite(fd, first.data() + off, kMiB, off), static_cast<ssize_t>(kMiB));
  ASSERT_EQ(fsync(fd), 0);
  for (size_t off = 32 * kMiB; off < first.size(); off += kMiB)
    ASSERT_EQ(pwrite(fd, first.data() + off, kMiB, off), static_cast<ssize_t>(kMiB));
  const std::string overwrite(8 * kMiB, 'z');
  ASSERT_EQ(pwrite(fd, overwrite.data(), overwrite.size(), kMiB), static_cast<ssize_t>(8 * kMiB));
  close(fd);
  SyncDir(mnt().string());
  const auto cut = Cut();
  EXPECT_EQ(cut["bytes_dropped"], 16 * kMiB + 8 * kMiB);
  const std::string after = Read(P("big"));
  ASSERT_EQ(after.size(), 32 * kMiB);
  EXPECT_TRUE(after == first.substr(0, 32 * kMiB)) << "the synced 32 MiB, byte for byte";
}

TEST_F(PowerFs, ACutWhileAWriteRunsLeavesTheSyncedDataAndNoDamage) {
  Append(P("log"), std::string(4096, 's'), true);
  SyncDir(mnt().string());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> blocks{0};
  std::thread writer([&] {
    const int fd = open(P("log").c_str(), O_WRONLY | O_APPEND);
    const std::string block(4096, 'u');
    while (!stop && write(fd, block.data(), block.size()) == 4096) blocks++;
    close(fd);
  });
  while (blocks < 50) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto first = Cut();  // while it writes
  const int64_t at_cut = blocks;
  while (blocks < at_cut + 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  writer.join();
  EXPECT_EQ(first["errors"], 0);
  EXPECT_GT(first["bytes_dropped"].get<int64_t>(), 0);
  const std::string mid = Read(P("log"));
  EXPECT_EQ(mid.substr(0, 4096), std::string(4096, 's')) << "the synced block is intact";
  Cut();
  EXPECT_EQ(Read(P("log")), std::string(4096, 's')) << "nothing unsynced survives the next";
}

TEST_F(PowerFs, AFailedFsyncLosesItsDataEvenAfterALaterFsyncSucceeds) {
  Append(P("wal"), "base|", true);
  SyncDir(mnt().string());
  ASSERT_TRUE(control_->FailFsyncs(1.0, 7).ok());
  const int fd = open(P("wal").c_str(), O_WRONLY | O_APPEND);
  ASSERT_EQ(write(fd, "lost|", 5), 5);
  errno = 0;
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EIO);
  ASSERT_TRUE(control_->FailFsyncs(0, 7).ok());
  EXPECT_EQ(fsync(fd), 0) << "the retry succeeds: the kernel forgot the dirty pages";
  ASSERT_EQ(write(fd, "kept", 4), 4);
  EXPECT_EQ(fsync(fd), 0);
  close(fd);
  auto stats = control_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["fsyncs_failed"], 1);
  const auto cut = Cut();
  EXPECT_EQ(cut["fsyncgate_bytes"], 5);
  EXPECT_EQ(Read(P("wal")), std::string("base|") + std::string(5, '\0') + "kept")
      << "the write before the failed fsync is gone; the one after it is durable";
}

TEST_F(PowerFs, TheMountGoesWithTheProcessEvenWhenItIsKilled) {
  Append(P("a"), "x", true);
  const pid_t pid = sup_.Pid("powerfs");
  auto ended = sup_.Kill("powerfs", SIGKILL);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->signal, SIGKILL);
  // auto_unmount: fusermount3 notices and unmounts; the harness's Unmount is the backstop.
  for (int k = 0; k < 100 && harness::IsMountPoint(mnt().string()); ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(harness::IsMountPoint(mnt().string()));
  EXPECT_TRUE(harness::Unmount(mnt().string()).ok());
  EXPECT_EQ(Pgrep("ithappens-powerfs").count(pid), 0u);
  // Restarted on the same backing directory, it serves what was synced.
  ASSERT_TRUE(sup_.Start(spec_).ok());
  control_ = std::make_unique<PowerControl>(sup_.Port("powerfs"));
  EXPECT_EQ(Read(P("a")), "x");
}

}  // namespace
}  // namespace ithappens::testing
