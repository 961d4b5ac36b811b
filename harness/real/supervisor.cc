#include "harness/real/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace ithappens::harness {

using engine::Status;

namespace {

// The live process groups of this process, for the signal handler (async-signal-safe:
// a fixed array of atomics, read with kill() only).
constexpr size_t kMaxGroups = 4096;
std::array<std::atomic<pid_t>, kMaxGroups> g_groups{};

void Register(pid_t pgid) {
  for (auto& g : g_groups) {
    pid_t none = 0;
    if (g.compare_exchange_strong(none, pgid)) return;
  }
}

void Unregister(pid_t pgid) {
  for (auto& g : g_groups) {
    pid_t mine = pgid;
    if (g.compare_exchange_strong(mine, 0)) return;
  }
}

// Paths for the signal handler (fixed slots of fixed-size strings, read with
// async-signal-safe calls only): the memory cgroups of this process's supervisors (rmdir)
// and the power-cut file systems it mounted (umount2).
class SignalSafePaths {
 public:
  void Add(const std::string& path) {
    if (path.empty() || path.size() >= kPathMax) return;
    for (size_t k = 0; k < kSlots; ++k) {
      bool no = false;
      if (!used_[k].load() && used_[k].compare_exchange_strong(no, true)) {
        std::memcpy(paths_[k].data(), path.c_str(), path.size() + 1);
        return;
      }
    }
  }
  void Remove(const std::string& path) {
    for (size_t k = 0; k < kSlots; ++k)
      if (used_[k].load() && path == paths_[k].data()) used_[k] = false;
  }
  template <typename F>
  void ForEach(F&& f) {
    for (size_t k = 0; k < kSlots; ++k)
      if (used_[k].load()) f(paths_[k].data());
  }

 private:
  static constexpr size_t kSlots = 512, kPathMax = 256;
  std::array<std::array<char, kPathMax>, kSlots> paths_{};
  std::array<std::atomic<bool>, kSlots> used_{};
};
SignalSafePaths g_cgroups, g_mounts;

void RegisterCgroup(const std::string& path) { g_cgroups.Add(path); }
void UnregisterCgroup(const std::string& path) { g_cgroups.Remove(path); }

extern "C" void TearDownOnSignal(int sig) {
  for (auto& g : g_groups) {
    const pid_t pgid = g.load();
    if (pgid > 0) kill(-pgid, SIGKILL);
  }
  // Reaped before this process ends: a killed process holds its ports until it is gone.
  // waitpid is async-signal-safe; another thread may reap one first (ECHILD).
  for (auto& g : g_groups) {
    const pid_t pgid = g.load();
    if (pgid <= 0) continue;
    while (waitpid(-pgid, nullptr, 0) > 0 || errno == EINTR) {
    }
  }
  // The memory cgroups, once the kernel has let go of their killed processes.
  g_cgroups.ForEach([](const char* path) {
    for (int attempt = 0; attempt < 100 && rmdir(path) != 0 && errno == EBUSY; ++attempt) {
      const timespec pause{0, 20'000'000};
      nanosleep(&pause, nullptr);
    }
  });
  // The power-cut file systems: their process is gone, and fusermount3's watcher may be
  // too (or slow on a loaded machine); detached here, never left behind.
  g_mounts.ForEach([](const char* path) { umount2(path, MNT_DETACH); });
  signal(sig, SIG_DFL);
  raise(sig);
}

std::string LogTail(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
  return text;
}

}  // namespace

std::string ExitRecord::ToString() const {
  return exited ? "exited " + std::to_string(code)
                : "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

static std::atomic<int64_t> g_supervisors{0};

Supervisor::Supervisor(std::filesystem::path logs_dir, MemoryLimits limits)
    : logs_(std::move(logs_dir)),
      limits_(std::move(limits)),
      run_tag_(std::to_string(getpid()) + "-" + std::to_string(g_supervisors++)) {}

Supervisor::~Supervisor() { TearDown(); }

std::filesystem::path Supervisor::LogPath(const std::string& name) const {
  return logs_ / (name + ".log");
}

Status Supervisor::Start(const ProcessSpec& spec) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (spec.argv.empty()) return Status::InvalidArgument("argv: empty for " + spec.name);
  auto it = procs_.find(spec.name);
  if (it != procs_.end() && it->second.pid > 0) {
    return Status::FailedPrecondition(spec.name + " is already running (pid " +
                                      std::to_string(it->second.pid) + ")");
  }
  std::error_code ec;
  std::filesystem::create_directories(logs_, ec);
  if (ec) return Status::Unavailable("logs: cannot create " + logs_.string() + ": " + ec.message());
  if (!spec.port_file.empty()) std::filesystem::remove(spec.port_file, ec);
  const std::string log = LogPath(spec.name).string();
  std::vector<std::string> argv = spec.argv;
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // Its memory limit: its cgroup (made once per name; a restart joins it again), which the
  // child joins before exec, or RLIMIT_AS, set in the child.
  std::string procs_file;
  if (spec.memory_limit_bytes > 0 && limits_.mechanism() != LimitMechanism::kRlimitAs) {
    auto g = groups_.find(spec.name);
    if (g == groups_.end()) {
      auto made = limits_.MakeGroup(run_tag_, spec.name, spec.memory_limit_bytes);
      if (!made.ok()) return made.status();
      RegisterCgroup(*made);
      g = groups_.emplace(spec.name, *made).first;
    }
    procs_file = g->second + "/cgroup.procs";
  }
  const pid_t pid = fork();
  if (pid < 0) return Status::Unavailable(spec.name + ": fork: " + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);  // its own group: a signal to the group reaches all it started
    if (!procs_file.empty()) {
      const int cg = open(procs_file.c_str(), O_WRONLY | O_CLOEXEC);
      if (cg < 0 || write(cg, "0", 1) != 1) {
        dprintf(2, "ithappens supervisor: cannot join %s: %s\n", procs_file.c_str(),
                std::strerror(errno));
        _exit(126);
      }
      close(cg);
    } else if (spec.memory_limit_bytes > 0) {
      const auto bytes =
          static_cast<rlim_t>(spec.memory_limit_bytes + kAddressSpaceAllowanceBytes);
      const rlimit limit{bytes, bytes};
      setrlimit(RLIMIT_AS, &limit);
    }
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGPIPE}) signal(sig, SIG_DFL);
    execv(args[0], args.data());
    dprintf(2, "ithappens supervisor: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no race with a signal sent right after fork
  Register(pid);
  Proc& p = procs_[spec.name];
  p.spec = spec;
  p.pid = pid;
  p.port = -1;
  if (spec.port_file.empty()) return Status::Ok();
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(spec.ready_timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream f(spec.port_file);
    if (int port = 0; f >> port && port > 0) {
      p.port = port;
      return Status::Ok();
    }
    if (auto ended = Ended(spec.name)) {
      return Status::Unavailable(spec.name + " " + ended->ToString() + " before it was ready; " +
                                 log + " ends: " + LogTail(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (void)Kill(spec.name, SIGKILL);
  return Status::Unavailable(spec.name + " did not write its port file " + spec.port_file +
                             " within " + std::to_string(spec.ready_timeout_ms) + " ms; " + log +
                             " ends: " + LogTail(log));
}

Status Supervisor::Restart(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = procs_.find(name);
  if (it == procs_.end()) return Status::NotFound(name + " was never started");
  const ProcessSpec spec = it->second.spec;
  return Start(spec);
}

engine::Result<ExitRecord> Supervisor::Reap(Proc& p, bool block) {
  int status = 0;
  pid_t got;
  do {
    got = waitpid(p.pid, &status, block ? 0 : WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0) return Status::Unavailable("still running");
  ExitRecord r;
  r.pid = p.pid;
  if (got < 0) {
    r.exited = true;
    r.code = -1;
  } else if (WIFEXITED(status)) {
    r.exited = true;
    r.code = WEXITSTATUS(status);
  } else {
    r.signal = WTERMSIG(status);
  }
  Unregister(p.pid);
  p.pid = -1;
  p.port = -1;
  return r;
}

engine::Result<ExitRecord> Supervisor::Kill(const std::string& name, int sig) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = procs_.find(name);
  if (it == procs_.end() || it->second.pid <= 0)
    return Status::FailedPrecondition(name + " is not running");
  Proc& p = it->second;
  if (kill(-p.pid, sig) != 0 && errno != ESRCH)
    return Status::Unavailable(name + ": kill: " + std::strerror(errno));
  if (sig != SIGKILL) kill(-p.pid, SIGCONT);  // a paused process must run to handle it
  return Reap(p, true);
}

Status Supervisor::Pause(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (!Running(name)) return Status::FailedPrecondition(name + " is not running");
  if (kill(-procs_[name].pid, SIGSTOP) != 0)
    return Status::Unavailable(name + ": SIGSTOP: " + std::strerror(errno));
  return Status::Ok();
}

Status Supervisor::Signal(const std::string& name, int sig) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (!Running(name)) return Status::FailedPrecondition(name + " is not running");
  if (kill(procs_[name].pid, sig) != 0)
    return Status::Unavailable(name + ": " + strsignal(sig) + ": " + std::strerror(errno));
  return Status::Ok();
}

Status Supervisor::Resume(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (!Running(name)) return Status::FailedPrecondition(name + " is not running");
  if (kill(-procs_[name].pid, SIGCONT) != 0)
    return Status::Unavailable(name + ": SIGCONT: " + std::strerror(errno));
  return Status::Ok();
}

std::optional<ExitRecord> Supervisor::Ended(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = procs_.find(name);
  if (it == procs_.end() || it->second.pid <= 0) return std::nullopt;
  auto r = Reap(it->second, false);
  if (!r.ok()) return std::nullopt;
  return *r;
}

bool Supervisor::Running(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = procs_.find(name);
  return it != procs_.end() && it->second.pid > 0;
}

pid_t Supervisor::Pid(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = procs_.find(name);
  return it == procs_.end() ? -1 : it->second.pid;
}

int Supervisor::Port(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto it = procs_.find(name);
  return it == procs_.end() ? -1 : it->second.port;
}

void Supervisor::TearDown() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  for (auto& [name, p] : procs_) {
    if (p.pid <= 0) continue;
    kill(-p.pid, SIGKILL);
    (void)Reap(p, true);
  }
  for (const auto& [name, group] : groups_) {
    (void)MemoryLimits::RemoveGroup(group);
    UnregisterCgroup(group);
  }
  groups_.clear();
}

int64_t Supervisor::OomKills(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto g = groups_.find(name);
  return g == groups_.end() ? 0 : limits_.OomKills(g->second);
}

int64_t Supervisor::GroupPeakBytes(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto g = groups_.find(name);
  return g == groups_.end() ? -1 : limits_.PeakBytes(g->second);
}

void Supervisor::UnmountOnSignal(const std::string& path, bool on) {
  if (on) {
    g_mounts.Add(path);
  } else {
    g_mounts.Remove(path);
  }
}

void Supervisor::InstallSignalTeardown() {
  struct sigaction sa {};
  sa.sa_handler = TearDownOnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace ithappens::harness
