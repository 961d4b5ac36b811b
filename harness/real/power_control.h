// Real mode's power cuts: the harness's side of ithappens-powerfs's control port (one
// command per line, one JSON answer per line; powerfs_main.cc). Also what says whether a
// power-cut file system can be mounted here at all (FUSE present), so a scenario that
// needs one is refused with a message instead of faked.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/status.h"

namespace ithappens::harness {

class PowerControl {
 public:
  explicit PowerControl(int port) : port_(port) {}
  // The power cut: what it undid ({"files_reverted", "bytes_dropped", "entries_undone",
  // "fsyncgate_bytes", "errors"}). Kill the target's processes first.
  engine::Result<nlohmann::json> Cut() const { return Command("cut"); }
  // Each fsync fails (EIO, the data forgotten) with this probability; 0 turns it off.
  engine::Result<nlohmann::json> FailFsyncs(double probability, uint64_t seed) const;
  engine::Result<nlohmann::json> Stats() const { return Command("stats"); }
  // One command; UNAVAILABLE when the port does not answer within 5 s or answers not ok.
  engine::Result<nlohmann::json> Command(const std::string& command) const;

 private:
  int port_;
};

// OK when this machine can mount a FUSE file system (/dev/fuse usable, fusermount3
// installed); else FAILED_PRECONDITION naming what is missing.
engine::Status FuseAvailable();

// Whether something is mounted at this path (/proc/self/mountinfo).
bool IsMountPoint(const std::string& path);
// Detaches a mount left behind (umount2 MNT_DETACH); OK if nothing was mounted.
engine::Status Unmount(const std::string& path);

}  // namespace ithappens::harness
