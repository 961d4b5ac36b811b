// The power-cut file system's model (DESIGN.md, "Real mode, in detail", Disk; LazyFS's
// model): a directory tree whose writes reach a backing directory at once but stay
// *volatile* until they are synced. What was written to a file since its last
// fsync/fdatasync, and the directory entries made or removed since the directory's last
// fsync, are undone by Cut(): the tree is left as a power cut would leave a disk that
// kept exactly what was synced. ithappens-powerfs (powerfs_main.cc) serves it over FUSE;
// this class knows nothing of FUSE, so it is tested on its own too.
//
// How: writes go through to the backing file; before the first change of a byte that was
// durable, its durable content is saved (an undo record per inode, with its own fd, so
// renames and unlinks do not lose it). A successful fsync drops the inode's record. An
// unlink moves the file to a trash directory beside the root, so the undo can bring it
// back; a directory fsync makes the entries under it durable and empties their trash.
//
// The fsyncgate fault (FailFsyncs): an fsync that fails with EIO and leaves the data
// unsynced *and forgotten* — as the kernel marks the pages clean after a failed writeback,
// a later successful fsync does not save them: what that write changed reverts at the
// next cut, unless it was written again and synced since.
//
// Limits (documented, not faked): chmod/chown/utimens and xattrs are not undone; a
// directory's own fsync failing is not modelled; RENAME_EXCHANGE is refused (EINVAL).
// Thread-safe: one mutex around every change and the cut.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace ithappens::harness {

// Bytes at offsets: non-overlapping ranges, keyed by their first offset.
class RangeBytes {
 public:
  // The parts of [lo, hi) no range covers, in order.
  std::vector<std::pair<off_t, off_t>> Uncovered(off_t lo, off_t hi) const;
  void Put(off_t lo, std::string bytes);  // over a range nothing covers (Uncovered)
  void Erase(off_t lo, off_t hi);         // cuts [lo, hi) out of every range
  bool empty() const { return ranges_.empty(); }
  int64_t bytes() const { return bytes_; }
  const std::map<off_t, std::string>& ranges() const { return ranges_; }
  void clear() {
    ranges_.clear();
    bytes_ = 0;
  }

 private:
  std::map<off_t, std::string> ranges_;
  int64_t bytes_ = 0;
};

// What a cut undid (the proof a power-cut fault event carries).
struct CutReport {
  int64_t files_reverted = 0;   // inodes whose unsynced data was dropped
  int64_t bytes_dropped = 0;    // bytes restored to their durable content or cut off
  int64_t entries_undone = 0;   // directory entries (create, unlink, rename, mkdir, ...)
  int64_t fsyncgate_bytes = 0;  // of bytes_dropped: lost by a failed fsync earlier
  int64_t errors = 0;           // undo steps the backing directory refused (should be 0)
};

struct PowerStats {
  int64_t writes = 0, fsyncs = 0, fsyncs_failed = 0, dirsyncs = 0, cuts = 0;
  int64_t unsynced_bytes = 0, unsynced_entries = 0;  // what a cut now would undo
};

class PowerLayer {
 public:
  // backing/root holds the tree, backing/trash what was unlinked but not yet durably so;
  // both are made if missing. What is in root when it starts is durable.
  explicit PowerLayer(std::filesystem::path backing);
  ~PowerLayer();
  PowerLayer(const PowerLayer&) = delete;
  PowerLayer& operator=(const PowerLayer&) = delete;

  // The backing path of a path in the tree ("/a/b" or "a/b").
  std::string Backing(const std::string& path) const;

  // Each returns 0 (or a count or fd) on success and -errno on failure, as FUSE wants.
  int Open(const std::string& path, int flags, mode_t mode);  // O_CREAT records an entry
  ssize_t Write(int fd, const char* buf, size_t n, off_t off);
  int Truncate(int fd, off_t size);
  int TruncatePath(const std::string& path, off_t size);
  int Fallocate(int fd, int mode, off_t off, off_t len);
  int Fsync(int fd);  // fsync and fdatasync alike: the data is what is undone
  int Mknod(const std::string& path, mode_t mode, dev_t dev);
  int Mkdir(const std::string& path, mode_t mode);
  int Unlink(const std::string& path);
  int Rmdir(const std::string& path);
  int Rename(const std::string& from, const std::string& to, unsigned int flags);
  int Link(const std::string& from, const std::string& to);
  int Symlink(const std::string& target, const std::string& path);
  int FsyncDir(const std::string& path);

  // The power cut: every unsynced change is undone. Call it with no writer running (the
  // harness kills the target first); a write racing it is either undone or after it.
  CutReport Cut();
  // From now on each file fsync fails with EIO with this probability (0: never), drawn
  // from a generator seeded with seed.
  void FailFsyncs(double probability, uint64_t seed);
  PowerStats Stats() const;

 private:
  struct FileUndo {
    int fd = -1;             // our own, on the inode (survives renames and unlinks)
    off_t durable_size = 0;  // its size when it was last synced
    off_t size = 0;          // its size now (kept up to date by every change)
    RangeBytes saved;        // durable content of bytes changed since
    RangeBytes doomed;       // content to come back at the cut: a failed fsync's loss
  };
  struct Entry {
    enum Kind { kCreate, kMkdir, kUnlink, kRmdir, kRename } kind;
    std::string path, to;  // kRename: path -> to
    std::string trash;     // kUnlink / kRename over a file: where the old one waits
    mode_t mode = 0;       // kRmdir: the mode to make it again with
    bool is_dir = false;   // kRename: of a directory
    std::vector<std::string> dirs;  // the directories whose fsync makes it durable
  };

  FileUndo* UndoFor(int fd);  // made on the first change since the last sync
  void SaveBefore(FileUndo& u, off_t lo, off_t hi);
  void Record(Entry e);
  std::string MoveToTrash(const std::string& backing_path);
  void ForgetEntry(const Entry& e);  // durable now: its trash goes
  static std::string Parent(const std::string& path);
  static std::string Normal(const std::string& path);

  const std::filesystem::path root_, trash_;
  mutable std::mutex mu_;
  std::map<std::pair<dev_t, ino_t>, FileUndo> files_;
  std::vector<Entry> entries_;  // in the order they were made
  int64_t trash_seq_ = 0;
  double fail_fsync_probability_ = 0;
  std::mt19937_64 rng_;
  PowerStats stats_;
};

}  // namespace ithappens::harness
