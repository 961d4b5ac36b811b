#include "harness/sim/disk.h"

#include <fiu-control.h>

#include <mutex>

#include "engine/fault_points.h"

namespace ithappens::harness {

namespace {
std::mutex g_mu;
int g_armed = 0;  // disks armed in the process (guarded by g_mu)
// The failinfo of each point: which of the calling thread's disk's points it is.
int g_fsync_tag = 0, g_write_tag = 0;
}  // namespace

thread_local SimDisk* SimDisk::armed_here_ = nullptr;

void SimDisk::Arm() {
  if (armed_) return;
  armed_ = true;
  armed_here_ = this;
  engine::InitFaultPoints();
  std::lock_guard lock(g_mu);
  if (g_armed++ == 0) {
    fiu_enable_external(engine::kFaultStoreFsync, 1, &g_fsync_tag, 0, Fail);
    fiu_enable_external(engine::kFaultStoreWrite, 1, &g_write_tag, 0, Fail);
  }
}

void SimDisk::Disarm() {
  fsync_.ppm = write_.ppm = 0;
  if (!armed_) return;
  armed_ = false;
  if (armed_here_ == this) armed_here_ = nullptr;
  std::lock_guard lock(g_mu);
  if (--g_armed == 0) {
    fiu_disable(engine::kFaultStoreFsync);
    fiu_disable(engine::kFaultStoreWrite);
  }
}

int SimDisk::Fail(const char*, int*, void** failinfo, unsigned int*) {
  const SimDisk* disk = armed_here_;
  if (disk == nullptr) return 0;  // no simulation with a disk on this thread
  const Point& p = *failinfo == &g_fsync_tag ? disk->fsync_ : disk->write_;
  if (p.ppm <= 0) return 0;
  if (p.ppm >= kMillion) return 1;
  return p.rng->Below(kMillion) < p.ppm ? 1 : 0;
}

}  // namespace ithappens::harness
