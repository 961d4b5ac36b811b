// Real mode's supervisor (DESIGN.md, "Real mode, in detail"): starts each process of the
// target in its own process group, its stdout and stderr appended to
// OUT/<scenario>/logs/<name>.log; waits for it to be ready (its port file); kills
// (SIGKILL), pauses (SIGSTOP), resumes (SIGCONT) and restarts it on the nemesis's schedule,
// and records how each ended (the proof a fault event carries). Tearing down kills every
// group and reaps it: on success, on failure (the destructor), and on SIGINT or SIGTERM to
// the harness (InstallSignalTeardown). No process outlives a run. Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"
#include "harness/real/memory_limit.h"

namespace ithappens::harness {

struct ProcessSpec {
  std::string name;               // engine, sink, worker-0, ...: also the log's name
  std::vector<std::string> argv;  // argv[0] is the binary's path
  std::string port_file;          // written by the process when it listens ("": none)
  int64_t ready_timeout_ms = 10'000;
  // A memory limit the kernel enforces (memory_limit.h: its cgroup, or RLIMIT_AS); 0: none.
  int64_t memory_limit_bytes = 0;
};

// RLIMIT_AS bounds address space, not memory: a gRPC process reserves about half a GiB it
// never touches (thread stacks, malloc arenas). Under RLIMIT_AS the limit is the memory
// limit plus this allowance, so a leak of touched memory ends in a failed allocation near
// the memory limit, roughly (the report names the mechanism).
inline constexpr int64_t kAddressSpaceAllowanceBytes = int64_t{1} << 30;

// How a process ended: exited with a code, or killed by a signal.
struct ExitRecord {
  pid_t pid = -1;
  bool exited = false;
  int code = 0;    // exited: its exit code
  int signal = 0;  // killed: the signal
  std::string ToString() const;
};

class Supervisor {
 public:
  // limits: how memory limits are enforced (default: what this machine offers).
  explicit Supervisor(std::filesystem::path logs_dir,
                      MemoryLimits limits = MemoryLimits::Detect());
  ~Supervisor();  // TearDown()
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts it (or again, after it ended, with the same spec when spec is omitted); waits
  // for its port file. UNAVAILABLE, naming the log, when it exits or does not get ready.
  engine::Status Start(const ProcessSpec& spec);
  engine::Status Restart(const std::string& name);
  // Sends sig to its process group and reaps it (SIGKILL, or SIGTERM for a graceful stop).
  engine::Result<ExitRecord> Kill(const std::string& name, int sig);
  engine::Status Pause(const std::string& name);   // SIGSTOP
  engine::Status Resume(const std::string& name);  // SIGCONT
  // Sends sig to the process itself (not its group), which goes on running: the leak
  // switch (SIGUSR1 on, SIGUSR2 off).
  engine::Status Signal(const std::string& name, int sig);
  // Reaps it if it ended on its own (non-blocking): its record, or nullopt while alive.
  std::optional<ExitRecord> Ended(const std::string& name);

  bool Running(const std::string& name) const;
  pid_t Pid(const std::string& name) const;  // -1 when not running
  int Port(const std::string& name) const;   // from its port file; -1 when none
  std::filesystem::path LogPath(const std::string& name) const;

  // Kills and reaps every process still running, each group whole, and removes the
  // memory cgroups it made.
  void TearDown();

  // How the memory limits are enforced here, and what the kernel did under them.
  LimitMechanism limit_mechanism() const { return limits_.mechanism(); }
  int64_t OomKills(const std::string& name) const;   // the kernel's OOM kills in its group
  int64_t GroupPeakBytes(const std::string& name) const;  // -1: no cgroup

  // SIGINT and SIGTERM kill every live process group of every supervisor in this process,
  // then end the process by the same signal (its default action).
  static void InstallSignalTeardown();
  // While on, the signal teardown also detaches the file system mounted at path (a
  // power-cut file system whose process it has just killed).
  static void UnmountOnSignal(const std::string& path, bool on);

 private:
  struct Proc {
    ProcessSpec spec;
    pid_t pid = -1;
    int port = -1;
  };
  engine::Result<ExitRecord> Reap(Proc& p, bool block);
  std::filesystem::path logs_;
  const MemoryLimits limits_;
  const std::string run_tag_;                  // names this supervisor's cgroups
  std::map<std::string, std::string> groups_;  // process name -> its memory cgroup
  // Every public call holds it: the nemesis, the watcher of unexpected ends and the run's
  // end share one supervisor. Recursive: Start and Kill call Ended and Reap.
  mutable std::recursive_mutex mu_;
  std::map<std::string, Proc> procs_;
};

}  // namespace ithappens::harness
