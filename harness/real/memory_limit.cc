#include "harness/real/memory_limit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace ithappens::harness {
using engine::Status;

std::string_view Name(LimitMechanism m) {
  switch (m) {
    case LimitMechanism::kCgroupV2:
      return "cgroup-v2";
    case LimitMechanism::kCgroupV1:
      return "cgroup-v1";
    case LimitMechanism::kRlimitAs:
      return "rlimit-as";
  }
  return "?";
}

namespace {

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// Whether a group can be made under dir (made and removed again).
bool CanMakeGroup(const std::string& dir) {
  const std::string probe = dir + "/ithappens-probe-" + std::to_string(getpid());
  if (mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) return false;
  return rmdir(probe.c_str()) == 0;
}

Status WriteFile(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  f << value;
  f.flush();
  if (!f) return Status::Unavailable(path + ": cannot write '" + value + "'");
  return Status::Ok();
}

// The value of `key` in a "key value" per line file (memory.oom_control, memory.events).
int64_t KeyedValue(const std::string& path, const std::string& key) {
  std::ifstream f(path);
  std::string k;
  int64_t v;
  while (f >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

MemoryLimits MemoryLimits::Detect(const std::string& root) {
  MemoryLimits m;
  std::ifstream controllers(root + "/cgroup.controllers");
  std::string line;
  if (std::getline(controllers, line) && (" " + line + " ").find(" memory ") != std::string::npos &&
      CanMakeGroup(root)) {
    m.mechanism_ = LimitMechanism::kCgroupV2;
    m.base_ = root;
  } else if (Exists(root + "/memory/memory.limit_in_bytes") && CanMakeGroup(root + "/memory")) {
    m.mechanism_ = LimitMechanism::kCgroupV1;
    m.base_ = root + "/memory";
  }
  return m;
}

engine::Result<std::string> MemoryLimits::MakeGroup(const std::string& run_tag,
                                                    const std::string& name,
                                                    int64_t limit_bytes) const {
  if (mechanism_ == LimitMechanism::kRlimitAs) return std::string();
  const std::string dir = base_ + "/ithappens-" + run_tag + "-" + name;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::Unavailable(dir + ": cannot make the memory cgroup: " + std::strerror(errno));
  const std::string limit = std::to_string(limit_bytes);
  if (mechanism_ == LimitMechanism::kCgroupV2) {
    ITHAPPENS_RETURN_IF_ERROR(WriteFile(dir + "/memory.max", limit));
    if (Exists(dir + "/memory.swap.max")) (void)WriteFile(dir + "/memory.swap.max", "0");
  } else {
    ITHAPPENS_RETURN_IF_ERROR(WriteFile(dir + "/memory.limit_in_bytes", limit));
    (void)WriteFile(dir + "/memory.swappiness", "0");
    if (Exists(dir + "/memory.memsw.limit_in_bytes"))
      (void)WriteFile(dir + "/memory.memsw.limit_in_bytes", limit);
  }
  return dir;
}

int64_t MemoryLimits::OomKills(const std::string& group) const {
  if (group.empty()) return 0;
  return mechanism_ == LimitMechanism::kCgroupV2 ? KeyedValue(group + "/memory.events", "oom_kill")
                                                 : KeyedValue(group + "/memory.oom_control",
                                                              "oom_kill");
}

int64_t MemoryLimits::PeakBytes(const std::string& group) const {
  if (group.empty()) return -1;
  std::ifstream f(group + (mechanism_ == LimitMechanism::kCgroupV2 ? "/memory.peak"
                                                                   : "/memory.max_usage_in_bytes"));
  int64_t v = -1;
  f >> v;
  return v;
}

Status MemoryLimits::RemoveGroup(const std::string& group) {
  if (group.empty()) return Status::Ok();
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (rmdir(group.c_str()) == 0 || errno == ENOENT) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable(group + ": cannot remove the memory cgroup: " + std::strerror(errno));
}

}  // namespace ithappens::harness
