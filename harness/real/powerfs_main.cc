// ithappens-powerfs: the power-cut file system (power_layer.h) served over FUSE (libfuse3).
//
//   ithappens-powerfs --backing DIR --mount DIR --port-file F [--log F]
//
// Mounts DIR (--mount) over DIR/root of --backing; every operation passes through, and
// what was not synced is undone when the harness cuts the power. The harness talks to it
// on a TCP port on 127.0.0.1 (written to --port-file once the mount is live), one command
// per line, one JSON answer per line:
//   cut                  -> {"ok":true,"files_reverted":..,"bytes_dropped":..,...}
//   fail-fsync P SEED    -> {"ok":true}   (each fsync fails with EIO with probability P)
//   stats                -> {"ok":true,"writes":..,"fsyncs":..,...}
// SIGTERM or SIGINT unmounts and exits 0; if it dies otherwise, the mount goes with it
// (auto_unmount: fusermount3 watches it).
#define FUSE_USE_VERSION 31

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "harness/real/power_layer.h"

namespace {

using ithappens::harness::PowerLayer;
using json = nlohmann::json;

PowerLayer* layer = nullptr;
std::shared_ptr<spdlog::logger> g_log;
std::string port_file;
int control_port = 0;

// A path is null only for a file that was unlinked while open (hard_remove), and those
// operations go through its fd; a path operation on it finds nothing.
std::string P(const char* path) { return path != nullptr ? path : "/.unlinked-while-open"; }
std::string B(const char* path) { return layer->Backing(P(path)); }

int Getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  const int r = fi != nullptr ? fstat(static_cast<int>(fi->fh), st) : lstat(B(path).c_str(), st);
  return r == 0 ? 0 : -errno;
}
int Access(const char* path, int mask) { return access(B(path).c_str(), mask) == 0 ? 0 : -errno; }
int Readlink(const char* path, char* buf, size_t size) {
  const ssize_t n = readlink(B(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}
int Readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
            fuse_readdir_flags) {
  DIR* d = opendir(B(path).c_str());
  if (d == nullptr) return -errno;
  while (dirent* e = readdir(d)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(e->d_type) << 12;
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0))) break;
  }
  closedir(d);
  return 0;
}
int Mknod(const char* path, mode_t mode, dev_t dev) { return layer->Mknod(P(path), mode, dev); }
int Mkdir(const char* path, mode_t mode) { return layer->Mkdir(P(path), mode); }
int Unlink(const char* path) { return layer->Unlink(P(path)); }
int Rmdir(const char* path) { return layer->Rmdir(P(path)); }
int Symlink(const char* target, const char* path) { return layer->Symlink(target, P(path)); }
int Rename(const char* from, const char* to, unsigned int flags) {
  return layer->Rename(P(from), P(to), flags);
}
int Link(const char* from, const char* to) { return layer->Link(P(from), P(to)); }
int Chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  const int r = fi != nullptr ? fchmod(static_cast<int>(fi->fh), mode) : chmod(B(path).c_str(), mode);
  return r == 0 ? 0 : -errno;
}
int Chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  const int r = fi != nullptr ? fchown(static_cast<int>(fi->fh), uid, gid)
                              : lchown(B(path).c_str(), uid, gid);
  return r == 0 ? 0 : -errno;
}
int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  return fi != nullptr ? layer->Truncate(static_cast<int>(fi->fh), size)
                       : layer->TruncatePath(P(path), size);
}
int Utimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  const int r = fi != nullptr ? futimens(static_cast<int>(fi->fh), tv)
                              : utimensat(AT_FDCWD, B(path).c_str(), tv, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : -errno;
}
int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  const int fd = layer->Open(P(path), fi->flags | O_CREAT, mode);
  if (fd < 0) return fd;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}
int Open(const char* path, fuse_file_info* fi) {
  const int fd = layer->Open(P(path), fi->flags, 0);
  if (fd < 0) return fd;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}
int Read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  const ssize_t n = pread(static_cast<int>(fi->fh), buf, size, off);
  return n < 0 ? -errno : static_cast<int>(n);
}
int Write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  return static_cast<int>(layer->Write(static_cast<int>(fi->fh), buf, size, off));
}
int Statfs(const char* path, struct statvfs* st) {
  return statvfs(B(path).c_str(), st) == 0 ? 0 : -errno;
}
int Release(const char*, fuse_file_info* fi) {
  close(static_cast<int>(fi->fh));
  return 0;
}
int Fsync(const char*, int, fuse_file_info* fi) { return layer->Fsync(static_cast<int>(fi->fh)); }
int Fsyncdir(const char* path, int, fuse_file_info*) { return layer->FsyncDir(P(path)); }
int Fallocate(const char*, int mode, off_t off, off_t len, fuse_file_info* fi) {
  return layer->Fallocate(static_cast<int>(fi->fh), mode, off, len);
}

// What a command answers (one line of JSON).
std::string Answer(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "cut") {
    const auto r = layer->Cut();
    g_log->warn("power cut: {} files reverted, {} bytes dropped ({} by failed fsyncs), {} entries "
              "undone, {} errors",
              r.files_reverted, r.bytes_dropped, r.fsyncgate_bytes, r.entries_undone, r.errors);
    return json{{"ok", r.errors == 0},          {"files_reverted", r.files_reverted},
                {"bytes_dropped", r.bytes_dropped}, {"entries_undone", r.entries_undone},
                {"fsyncgate_bytes", r.fsyncgate_bytes}, {"errors", r.errors}}
        .dump();
  }
  if (cmd == "fail-fsync") {
    double p = -1;
    uint64_t seed = 0;
    if (!(in >> p >> seed) || p < 0 || p > 1)
      return json{{"ok", false}, {"error", "fail-fsync P SEED: P in 0..1"}}.dump();
    layer->FailFsyncs(p, seed);
    g_log->warn("fsyncs fail with probability {} (seed {})", p, seed);
    return json{{"ok", true}}.dump();
  }
  if (cmd == "stats") {
    const auto s = layer->Stats();
    return json{{"ok", true},
                {"writes", s.writes},
                {"fsyncs", s.fsyncs},
                {"fsyncs_failed", s.fsyncs_failed},
                {"dirsyncs", s.dirsyncs},
                {"cuts", s.cuts},
                {"unsynced_bytes", s.unsynced_bytes},
                {"unsynced_entries", s.unsynced_entries}}
        .dump();
  }
  return json{{"ok", false}, {"error", "unknown command '" + cmd + "' (cut, fail-fsync, stats)"}}
      .dump();
}

void Serve(int listener) {
  for (;;) {
    const int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::string buf;
    char chunk[512];
    for (;;) {
      const ssize_t n = read(c, chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
        const std::string answer = Answer(buf.substr(0, nl)) + "\n";
        buf.erase(0, nl + 1);
        if (write(c, answer.data(), answer.size()) < 0) break;
      }
    }
    close(c);
  }
}

void* Init(fuse_conn_info*, fuse_config* cfg) {
  // No caching of names or attributes, no writeback: every change reaches the layer when
  // it is made, and a file opened after a cut reads what the cut left.
  cfg->use_ino = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1;
  cfg->kernel_cache = 0;
  // Mounted: the harness may use it now.
  const std::string tmp = port_file + ".tmp";
  std::ofstream(tmp) << control_port << "\n";
  std::rename(tmp.c_str(), port_file.c_str());
  g_log->info("mounted; control on 127.0.0.1:{}", control_port);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ithappens-powerfs: a FUSE file system that loses unsynced writes on a power cut"};
  std::string backing, mount, log_path;
  app.add_option("--backing", backing, "directory that holds the data (root/, trash/)")
      ->required();
  app.add_option("--mount", mount, "where to mount it (an existing empty directory)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--port-file", port_file, "the control port is written here once mounted")
      ->required();
  app.add_option("--log", log_path, "log file (default: stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  g_log = log_path.empty() ? spdlog::stderr_logger_mt("powerfs")
                         : spdlog::basic_logger_mt("powerfs", log_path);
  g_log->flush_on(spdlog::level::info);
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    g_log->error("/dev/fuse: {} (the power-cut file system needs FUSE)", std::strerror(errno));
    return 2;
  }
  // libfuse changes the working directory to /: every path is made absolute first.
  backing = std::filesystem::absolute(backing).string();
  mount = std::filesystem::absolute(mount).string();
  port_file = std::filesystem::absolute(port_file).string();
  PowerLayer the_layer(backing);
  layer = &the_layer;

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 8) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    g_log->error("control socket: {}", std::strerror(errno));
    return 3;
  }
  control_port = ntohs(addr.sin_port);
  std::thread(Serve, listener).detach();

  fuse_operations ops{};
  ops.getattr = Getattr;
  ops.readlink = Readlink;
  ops.mknod = Mknod;
  ops.mkdir = Mkdir;
  ops.unlink = Unlink;
  ops.rmdir = Rmdir;
  ops.symlink = Symlink;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = Chmod;
  ops.chown = Chown;
  ops.truncate = Truncate;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.statfs = Statfs;
  ops.release = Release;
  ops.fsync = Fsync;
  ops.readdir = Readdir;
  ops.fsyncdir = Fsyncdir;
  ops.init = Init;
  ops.access = Access;
  ops.create = Create;
  ops.utimens = Utimens;
  ops.fallocate = Fallocate;
  std::vector<std::string> args = {"ithappens-powerfs", mount, "-f", "-o",
                                   "auto_unmount,max_threads=16,fsname=ithappens-powerfs,subtype=powerfs"};
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  g_log->info("mounting {} over {}/root", mount, backing);
  const int r = fuse_main(static_cast<int>(cargs.size()), cargs.data(), &ops, nullptr);
  // 8 is "the loop ended with an error", which is how a SIGTERM ends it too; 1-7 are
  // failures to parse, mount or set up.
  g_log->info("unmounted (fuse_main answered {})", r);
  return r == 0 || r == 8 ? 0 : 3;
}
