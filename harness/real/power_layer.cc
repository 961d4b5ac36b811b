#include "harness/real/power_layer.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <cerrno>
#include <system_error>

namespace ithappens::harness {
namespace fs = std::filesystem;

std::vector<std::pair<off_t, off_t>> RangeBytes::Uncovered(off_t lo, off_t hi) const {
  std::vector<std::pair<off_t, off_t>> out;
  if (lo >= hi) return out;
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    const off_t prev_end = prev->first + static_cast<off_t>(prev->second.size());
    if (prev_end > lo) lo = prev_end;
  }
  for (; lo < hi; ++it) {
    const off_t next = it == ranges_.end() ? hi : std::min(hi, it->first);
    if (next > lo) out.emplace_back(lo, next);
    if (it == ranges_.end()) break;
    lo = std::max(lo, it->first + static_cast<off_t>(it->second.size()));
  }
  return out;
}

void RangeBytes::Put(off_t lo, std::string bytes) {
  if (bytes.empty()) return;
  bytes_ += static_cast<int64_t>(bytes.size());
  ranges_.emplace(lo, std::move(bytes));
}

void RangeBytes::Erase(off_t lo, off_t hi) {
  if (lo >= hi) return;
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < hi) {
    const off_t start = it->first, end = start + static_cast<off_t>(it->second.size());
    if (end <= lo) {
      ++it;
      continue;
    }
    std::string bytes = std::move(it->second);
    bytes_ -= static_cast<int64_t>(bytes.size());
    it = ranges_.erase(it);
    if (start < lo) Put(start, bytes.substr(0, lo - start));
    if (end > hi) {
      Put(hi, bytes.substr(hi - start));
      break;
    }
  }
}

PowerLayer::PowerLayer(fs::path backing)
    : root_(backing / "root"), trash_(backing / "trash"), rng_(0) {
  fs::create_directories(root_);
  fs::remove_all(trash_);
  fs::create_directories(trash_);
}

PowerLayer::~PowerLayer() {
  for (auto& [key, u] : files_) close(u.fd);
}

std::string PowerLayer::Normal(const std::string& path) {
  size_t b = 0, e = path.size();
  while (b < e && path[b] == '/') ++b;
  while (e > b && path[e - 1] == '/') --e;
  return path.substr(b, e - b);
}

std::string PowerLayer::Parent(const std::string& path) {
  const std::string p = Normal(path);
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

std::string PowerLayer::Backing(const std::string& path) const {
  const std::string p = Normal(path);
  return p.empty() ? root_.string() : (root_ / p).string();
}

PowerLayer::FileUndo* PowerLayer::UndoFor(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  auto [it, made] = files_.try_emplace({st.st_dev, st.st_ino});
  if (made) {
    // Our own read-write fd on the inode, whatever the caller's was opened for.
    it->second.fd = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDWR | O_CLOEXEC);
    if (it->second.fd < 0) {
      files_.erase(it);
      return nullptr;
    }
    it->second.durable_size = it->second.size = st.st_size;
  }
  return &it->second;
}

void PowerLayer::SaveBefore(FileUndo& u, off_t lo, off_t hi) {
  for (auto [a, b] : u.saved.Uncovered(lo, std::min(hi, u.durable_size))) {
    std::string bytes(static_cast<size_t>(b - a), '\0');
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t r = pread(u.fd, bytes.data() + got, bytes.size() - got, a + got);
      if (r <= 0) break;  // past the end: what a truncation removed reads as zeros
      got += static_cast<size_t>(r);
    }
    u.saved.Put(a, std::move(bytes));
  }
}

int PowerLayer::Open(const std::string& path, int flags, mode_t mode) {
  std::lock_guard lock(mu_);
  const std::string b = Backing(path);
  struct stat st;
  const bool existed = lstat(b.c_str(), &st) == 0;
  // The kernel computes an append's offset; the backing fd must not append again. A
  // truncation at open goes through Truncate so it can be undone.
  const int fd = open(b.c_str(), (flags & ~(O_APPEND | O_TRUNC)) | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  if (!existed && (flags & O_CREAT)) Record({Entry::kCreate, Normal(path), "", "", 0, false, {Parent(path)}});
  if (existed && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
    FileUndo* u = UndoFor(fd);
    if (u != nullptr) SaveBefore(*u, 0, u->durable_size);
    if (ftruncate(fd, 0) != 0) {
      const int e = errno;
      close(fd);
      return -e;
    }
    if (u != nullptr) u->size = 0;
  }
  return fd;
}

ssize_t PowerLayer::Write(int fd, const char* buf, size_t n, off_t off) {
  std::lock_guard lock(mu_);
  FileUndo* u = UndoFor(fd);
  if (u != nullptr) SaveBefore(*u, off, off + static_cast<off_t>(n));
  const ssize_t r = pwrite(fd, buf, n, off);
  if (r < 0) return -errno;
  if (u != nullptr) u->size = std::max(u->size, off + static_cast<off_t>(r));
  stats_.writes++;
  return r;
}

int PowerLayer::Truncate(int fd, off_t size) {
  std::lock_guard lock(mu_);
  FileUndo* u = UndoFor(fd);
  if (u != nullptr) SaveBefore(*u, size, u->durable_size);
  if (ftruncate(fd, size) != 0) return -errno;
  if (u != nullptr) u->size = size;
  return 0;
}

int PowerLayer::TruncatePath(const std::string& path, off_t size) {
  const int fd = open(Backing(path).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int r = Truncate(fd, size);
  close(fd);
  return r;
}

int PowerLayer::Fallocate(int fd, int mode, off_t off, off_t len) {
  if (mode != 0) return -EOPNOTSUPP;  // punching holes or zeroing ranges: not modelled
  std::lock_guard lock(mu_);
  FileUndo* u = UndoFor(fd);
  if (fallocate(fd, 0, off, len) != 0) return -errno;
  if (u != nullptr) u->size = std::max(u->size, off + len);
  return 0;
}

int PowerLayer::Fsync(int fd) {
  std::lock_guard lock(mu_);
  stats_.fsyncs++;
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  auto it = files_.find({st.st_dev, st.st_ino});
  if (fail_fsync_probability_ > 0 &&
      std::bernoulli_distribution(fail_fsync_probability_)(rng_)) {
    stats_.fsyncs_failed++;
    if (it != files_.end()) {
      // fsyncgate: the kernel forgets the pages it could not write. What these writes
      // changed comes back at the cut even if a later fsync succeeds; an older loss wins
      // over a newer one (its content is the older durable one).
      FileUndo& u = it->second;
      for (const auto& [lo, bytes] : u.saved.ranges())
        for (auto [a, b] : u.doomed.Uncovered(lo, lo + static_cast<off_t>(bytes.size())))
          u.doomed.Put(a, bytes.substr(a - lo, b - a));
      for (auto [a, b] : u.doomed.Uncovered(u.durable_size, u.size))
        u.doomed.Put(a, std::string(static_cast<size_t>(b - a), '\0'));
      u.saved.clear();
      u.durable_size = u.size;
    }
    return -EIO;
  }
  if (fsync(fd) != 0) return -errno;
  if (it == files_.end()) return 0;
  FileUndo& u = it->second;
  // What was written since is durable now, also where a failed fsync had lost it.
  for (const auto& [lo, bytes] : u.saved.ranges())
    u.doomed.Erase(lo, lo + static_cast<off_t>(bytes.size()));
  u.doomed.Erase(u.durable_size, std::max(u.durable_size, u.size));
  u.doomed.Erase(u.size, std::numeric_limits<off_t>::max());
  u.saved.clear();
  u.durable_size = u.size;
  if (u.doomed.empty()) {
    close(u.fd);
    files_.erase(it);
  }
  return 0;
}

void PowerLayer::Record(Entry e) {
  std::sort(e.dirs.begin(), e.dirs.end());
  e.dirs.erase(std::unique(e.dirs.begin(), e.dirs.end()), e.dirs.end());
  entries_.push_back(std::move(e));
}

std::string PowerLayer::MoveToTrash(const std::string& backing_path) {
  const std::string to = (trash_ / std::to_string(++trash_seq_)).string();
  return rename(backing_path.c_str(), to.c_str()) == 0 ? to : "";
}

int PowerLayer::Mknod(const std::string& path, mode_t mode, dev_t dev) {
  std::lock_guard lock(mu_);
  const std::string b = Backing(path);
  int r;
  if (S_ISREG(mode)) {
    r = open(b.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
    if (r >= 0) r = close(r);
  } else if (S_ISFIFO(mode)) {
    r = mkfifo(b.c_str(), mode);
  } else {
    r = mknod(b.c_str(), mode, dev);
  }
  if (r != 0) return -errno;
  Record({Entry::kCreate, Normal(path), "", "", 0, false, {Parent(path)}});
  return 0;
}

int PowerLayer::Mkdir(const std::string& path, mode_t mode) {
  std::lock_guard lock(mu_);
  if (mkdir(Backing(path).c_str(), mode) != 0) return -errno;
  Record({Entry::kMkdir, Normal(path), "", "", 0, false, {Parent(path)}});
  return 0;
}

int PowerLayer::Unlink(const std::string& path) {
  std::lock_guard lock(mu_);
  const std::string b = Backing(path);
  struct stat st;
  if (lstat(b.c_str(), &st) != 0) return -errno;
  if (S_ISDIR(st.st_mode)) return -EISDIR;
  const std::string trash = MoveToTrash(b);
  if (trash.empty()) return -errno;
  Record({Entry::kUnlink, Normal(path), "", trash, 0, false, {Parent(path)}});
  return 0;
}

int PowerLayer::Rmdir(const std::string& path) {
  std::lock_guard lock(mu_);
  const std::string b = Backing(path);
  struct stat st;
  if (lstat(b.c_str(), &st) != 0) return -errno;
  if (rmdir(b.c_str()) != 0) return -errno;
  Record({Entry::kRmdir, Normal(path), "", "", st.st_mode & 07777, false, {Parent(path)}});
  return 0;
}

int PowerLayer::Rename(const std::string& from, const std::string& to, unsigned int flags) {
  if (flags & RENAME_EXCHANGE) return -EINVAL;  // not modelled
  std::lock_guard lock(mu_);
  const std::string bf = Backing(from), bt = Backing(to);
  struct stat sf, st;
  if (lstat(bf.c_str(), &sf) != 0) return -errno;
  const bool replaces = lstat(bt.c_str(), &st) == 0;
  if (replaces && (flags & RENAME_NOREPLACE)) return -EEXIST;
  if (replaces && S_ISDIR(st.st_mode) != S_ISDIR(sf.st_mode))
    return S_ISDIR(st.st_mode) ? -EISDIR : -ENOTDIR;
  if (replaces && S_ISDIR(st.st_mode) && !fs::is_empty(bt)) return -ENOTEMPTY;
  // What it replaces waits in the trash, so the undo can put it back.
  std::string trash;
  if (replaces && (trash = MoveToTrash(bt)).empty()) return -errno;
  if (rename(bf.c_str(), bt.c_str()) != 0) {
    const int e = errno;
    if (!trash.empty()) rename(trash.c_str(), bt.c_str());
    return -e;
  }
  Record({Entry::kRename, Normal(from), Normal(to), trash, 0, S_ISDIR(sf.st_mode),
          {Parent(from), Parent(to)}});
  if (S_ISDIR(sf.st_mode)) {
    // Entries under the directory are made durable by syncing it under its new name.
    const std::string old_prefix = Normal(from), new_prefix = Normal(to);
    for (Entry& e : entries_)
      for (std::string& d : e.dirs)
        if (d == old_prefix || d.rfind(old_prefix + "/", 0) == 0)
          d = new_prefix + d.substr(old_prefix.size());
  }
  return 0;
}

int PowerLayer::Link(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (link(Backing(from).c_str(), Backing(to).c_str()) != 0) return -errno;
  Record({Entry::kCreate, Normal(to), "", "", 0, false, {Parent(to)}});
  return 0;
}

int PowerLayer::Symlink(const std::string& target, const std::string& path) {
  std::lock_guard lock(mu_);
  if (symlink(target.c_str(), Backing(path).c_str()) != 0) return -errno;
  Record({Entry::kCreate, Normal(path), "", "", 0, false, {Parent(path)}});
  return 0;
}

void PowerLayer::ForgetEntry(const Entry& e) {
  if (e.trash.empty()) return;
  std::error_code ec;
  fs::remove_all(e.trash, ec);
}

int PowerLayer::FsyncDir(const std::string& path) {
  std::lock_guard lock(mu_);
  stats_.dirsyncs++;
  const int fd = open(Backing(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int r = fsync(fd);
  const int e = errno;
  close(fd);
  if (r != 0) return -e;
  const std::string dir = Normal(path);
  for (size_t k = 0; k < entries_.size();) {
    Entry& entry = entries_[k];
    std::erase(entry.dirs, dir);
    if (!entry.dirs.empty()) {
      ++k;
      continue;
    }
    ForgetEntry(entry);
    if (entry.kind == Entry::kRename && entry.is_dir) {
      // A directory's rename is durable: older entries under it are undone by its new name.
      for (size_t j = 0; j < k; ++j)
        for (std::string* p : {&entries_[j].path, &entries_[j].to})
          if (*p == entry.path || p->rfind(entry.path + "/", 0) == 0)
            *p = entry.to + p->substr(entry.path.size());
    }
    entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(k));
  }
  // A file whose last name is durably gone: what it holds can never come back, unsynced
  // or not (SQLite deletes and makes its WAL again on every clean reopen).
  for (auto it = files_.begin(); it != files_.end();) {
    struct stat st;
    if (fstat(it->second.fd, &st) == 0 && st.st_nlink == 0) {
      close(it->second.fd);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  return 0;
}

CutReport PowerLayer::Cut() {
  std::lock_guard lock(mu_);
  CutReport report;
  for (auto& [key, u] : files_) {
    const int64_t appended = std::max<int64_t>(0, u.size - u.durable_size);
    const int64_t dropped = u.saved.bytes() + appended + u.doomed.bytes();
    if (ftruncate(u.fd, u.durable_size) != 0) {
      report.errors++;
    } else {
      for (const RangeBytes* r : {&u.saved, &u.doomed})
        for (const auto& [lo, bytes] : r->ranges()) {
          const off_t n = std::min<off_t>(static_cast<off_t>(bytes.size()), u.durable_size - lo);
          if (n > 0 && pwrite(u.fd, bytes.data(), static_cast<size_t>(n), lo) != n)
            report.errors++;
        }
    }
    close(u.fd);
    if (dropped > 0) report.files_reverted++;
    report.bytes_dropped += dropped;
    report.fsyncgate_bytes += u.doomed.bytes();
  }
  files_.clear();
  std::error_code ec;
  for (auto e = entries_.rbegin(); e != entries_.rend(); ++e) {
    const std::string b = Backing(e->path);
    switch (e->kind) {
      case Entry::kCreate:
      case Entry::kMkdir:
        if (fs::remove_all(b, ec) == 0 || ec) report.errors++;
        break;
      case Entry::kUnlink:
        if (rename(e->trash.c_str(), b.c_str()) != 0) report.errors++;
        break;
      case Entry::kRmdir:
        if (mkdir(b.c_str(), e->mode) != 0) report.errors++;
        break;
      case Entry::kRename:
        if (rename(Backing(e->to).c_str(), b.c_str()) != 0) report.errors++;
        if (!e->trash.empty() && rename(e->trash.c_str(), Backing(e->to).c_str()) != 0)
          report.errors++;
        break;
    }
    report.entries_undone++;
  }
  entries_.clear();
  fs::remove_all(trash_, ec);
  fs::create_directories(trash_, ec);
  stats_.cuts++;
  return report;
}

void PowerLayer::FailFsyncs(double probability, uint64_t seed) {
  std::lock_guard lock(mu_);
  fail_fsync_probability_ = probability;
  rng_.seed(seed);
}

PowerStats PowerLayer::Stats() const {
  std::lock_guard lock(mu_);
  PowerStats s = stats_;
  for (const auto& [key, u] : files_)
    s.unsynced_bytes +=
        u.saved.bytes() + u.doomed.bytes() + std::max<int64_t>(0, u.size - u.durable_size);
  s.unsynced_entries = static_cast<int64_t>(entries_.size());
  return s;
}

}  // namespace ithappens::harness
