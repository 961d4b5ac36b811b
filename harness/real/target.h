// The platform under test in real mode (DESIGN.md, "Targets"): the processes it runs as,
// how a caller reaches it, and which of its own controls the nemesis may use. The driver
// (run.cc), the fault proxy, the supervisor, the effect sink, the checkers and the reports
// know nothing more about it: the reference engine over gRPC (`EngineTarget`) is one
// implementation; another platform (beanstalkd, next) is another class here, with its own
// server and worker processes and its own client, and nothing else changes.
//
// What every target must give: a server that listens on a TCP port (the proxies sit in
// front of it), workers that record their calls in the history's format (--history), and
// a client that creates tasks and reads their status. What a target may not support (disk
// faults through libfiu, a clock it lets the harness move) it says in Supports(): such a
// scenario is refused with exit 2, never faked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/task.h"
#include "harness/fault_kind.h"
#include "harness/real/supervisor.h"
#include "harness/scenario/scenario.h"

namespace ithappens::harness {

// What a target needs to know about the run to start its processes.
struct RunContext {
  const Scenario* scenario = nullptr;
  std::filesystem::path real_dir;      // OUT/<scenario>/real: port files, op logs
  // Where the server keeps its durable data: real_dir/data, the power-cut file system's
  // mount when the scenario cuts the power (a target must keep all of it there).
  std::filesystem::path data_dir;
  std::string bin_dir;                 // where the binaries are
  double time_scale = 1;               // K run seconds per wall second
  int64_t origin_ms = 0;               // the run's time 0, wall ms (every clock counts from it)
  std::vector<std::string> bug_names;  // bug switches to turn on (self-validation)
  int64_t poll_wall_ms = 100;          // a worker's claim poll interval
  int64_t attempt_wall_ms = 5'000;     // a caller gives up on an attempt after this
  // Limits and the leak switched on by SIGUSR1 (worker-leak); issue 11 moves the limit
  // to a memory cgroup.
  int64_t worker_memory_limit_mb = 0, worker_leak_mb_per_task = 0;
};

// One caller's connection to the platform (a client through its proxy, or the harness's
// own direct one for the final statuses).
class PlatformClient {
 public:
  virtual ~PlatformClient() = default;
  // The definition's own id is the task's (idempotent create); status: what it answered.
  virtual engine::Status Create(const engine::TaskDefinition& def, engine::TaskStatus* status) = 0;
  virtual engine::Status GetStatus(const std::string& task_id, engine::TaskStatus* status) = 0;
  // The platform's own cron hooks (a platform without them is refused hook workloads).
  virtual engine::Status CreateHook(const engine::HookDefinition& hook) = 0;
  virtual engine::Status RemoveHook(const std::string& hook_id) = 0;
};

class RealTarget {
 public:
  virtual ~RealTarget() = default;
  virtual std::string Name() const = 0;
  // Whether the nemesis can inflict this fault kind on it (the generic ones — crashes,
  // pauses, the network, the sink, leaks — need nothing of the target but its processes).
  virtual bool Supports(FaultKindId kind) const = 0;
  // The server process, listening on 127.0.0.1:port (0: any free one; a restart passes the
  // port it had, so the proxies keep their upstream), its port in spec.port_file.
  virtual ProcessSpec Server(const RunContext& run, int port) const = 0;
  // Worker w, calling the platform at `platform` and the effect sink at `sink`, recording
  // its calls to `op_log` in the history's format.
  virtual ProcessSpec Worker(const RunContext& run, int w, const std::string& platform,
                             const std::string& sink, const std::string& op_log) const = 0;
  virtual std::unique_ptr<PlatformClient> Connect(const std::string& address,
                                                  int64_t attempt_wall_ms,
                                                  uint64_t seed) const = 0;
  // fsync-error / write-error on the running server (pid): on with a probability, or off.
  virtual engine::Status SetDiskFault(const RunContext& run, pid_t server, FaultKindId kind,
                                      bool on, double probability) const = 0;
  // How many calls the disk faults failed so far (the proof of a disk fault).
  virtual engine::Result<int64_t> DiskFaultFires(const std::string& address) const = 0;
  // Moves the server's clock by offset_ms from the run's; answers the previous offset.
  virtual engine::Result<int64_t> SetClockOffset(const std::string& address,
                                                 int64_t offset_ms) const = 0;
};

// The reference engine: ithappens-engine (SQLite, libfiu's fifo, EngineControl for its
// clock) and ithappens-worker, over engine/proto/queue.proto.
std::unique_ptr<RealTarget> MakeEngineTarget();

}  // namespace ithappens::harness
