// Five-field cron schedules in UTC: "minute hour day-of-month month day-of-week".
// Each field takes *, N, A-B, */S, A-B/S and comma lists; day-of-week 0-7 (0 and 7 are
// Sunday). As in Vixie cron, when both day fields are restricted a day matches either.
#pragma once

#include <bitset>
#include <string_view>

#include "engine/clock.h"
#include "engine/status.h"

namespace ithappens::engine {

class CronSchedule {
 public:
  // INVALID_ARGUMENT naming "schedule", the field and the bound on a bad expression, or when
  // the schedule never fires (e.g. "0 0 30 2 *").
  static Result<CronSchedule> Parse(std::string_view expr);
  // The first fire time strictly after t_ms (minute resolution), or -1 if none within 8
  // years (cannot happen for a schedule Parse accepted).
  TimeMs NextAfter(TimeMs t_ms) const;
  bool Matches(TimeMs t_ms) const;

 private:
  bool DayMatches(int64_t days_since_epoch) const;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;
  std::bitset<13> months_;
  std::bitset<7> days_of_week_;
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
};

}  // namespace ithappens::engine
