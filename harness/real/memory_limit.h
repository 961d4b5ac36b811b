// Real mode's memory limits (DESIGN.md, "Real mode, in detail", Memory): every worker and
// the sink run under a real limit that the kernel enforces — a memory cgroup where one is
// writable (v2 memory.max, or v1 memory.limit_in_bytes; swap off for the group, so a leak
// ends in the OOM killer and not in swapping), else RLIMIT_AS. The kernel's OOM kill is
// observed (the process is killed by SIGKILL and the group's oom_kill count rises); under
// RLIMIT_AS an allocation fails instead and the process aborts. The run names the
// mechanism it used. Groups are made per process name (a restart joins the same one) and
// removed at the end of the run, also on SIGINT and SIGTERM (Supervisor).
#pragma once

#include <cstdint>
#include <string>

#include "engine/status.h"

namespace ithappens::harness {

enum class LimitMechanism { kCgroupV2, kCgroupV1, kRlimitAs };
std::string_view Name(LimitMechanism m);  // cgroup-v2, cgroup-v1, rlimit-as

class MemoryLimits {
 public:
  // What this machine offers: a writable memory cgroup hierarchy, else RLIMIT_AS.
  // `root` overrides where cgroups are looked for (tests).
  static MemoryLimits Detect(const std::string& root = "/sys/fs/cgroup");
  LimitMechanism mechanism() const { return mechanism_; }

  // Makes (or empties and reuses) the group for a process of this run, limited to
  // limit_bytes; answers its directory ("" under RLIMIT_AS: the limit is set at exec).
  engine::Result<std::string> MakeGroup(const std::string& run_tag, const std::string& name,
                                        int64_t limit_bytes) const;
  // How many times the kernel's OOM killer killed in the group (0 if unreadable).
  int64_t OomKills(const std::string& group) const;
  // Peak usage the group saw, bytes (v1 max_usage_in_bytes / v2 memory.peak; -1: none).
  int64_t PeakBytes(const std::string& group) const;
  // Removes the group; it must hold no process any more (retried briefly: the kernel
  // frees a killed process's memory asynchronously).
  static engine::Status RemoveGroup(const std::string& group);

 private:
  LimitMechanism mechanism_ = LimitMechanism::kRlimitAs;
  std::string base_;  // the memory hierarchy's directory (cgroups)
};

}  // namespace ithappens::harness
