#include "engine/clock.h"

#include <algorithm>
#include <chrono>

namespace ithappens::engine {

TimeMs RealClock::NowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

TimeMs ScaledClock::NowMs() const {
  const TimeMs wall = RealClock().NowMs();
  return origin_ms_ + static_cast<TimeMs>(static_cast<double>(wall - origin_ms_) * scale_) +
         offset_ms();
}

int64_t ScaledClock::WallMsFor(int64_t engine_ms) const {
  if (engine_ms <= 0) return 0;
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(engine_ms) / scale_ + 0.5));
}

}  // namespace ithappens::engine
