#include "harness/sim/disk.h"

#include <fiu-control.h>

#include "engine/fault_points.h"

namespace ithappens::harness {

void SimDisk::Arm() {
  if (armed_) return;
  armed_ = true;
  engine::InitFaultPoints();
  fiu_enable_external(engine::kFaultStoreFsync, 1, &fsync_, 0, Fail);
  fiu_enable_external(engine::kFaultStoreWrite, 1, &write_, 0, Fail);
}

void SimDisk::Disarm() {
  fsync_.ppm = write_.ppm = 0;
  if (!armed_) return;
  armed_ = false;
  fiu_disable(engine::kFaultStoreFsync);
  fiu_disable(engine::kFaultStoreWrite);
}

int SimDisk::Fail(const char*, int*, void** failinfo, unsigned int*) {
  const Point& p = *static_cast<const Point*>(*failinfo);
  if (p.ppm <= 0) return 0;
  if (p.ppm >= kMillion) return 1;
  return p.rng->Below(kMillion) < p.ppm ? 1 : 0;
}

}  // namespace ithappens::harness
