#include "engine/cron.h"

#include <charconv>
#include <chrono>
#include <string>
#include <vector>

namespace ithappens::engine {
namespace {

constexpr TimeMs kMinuteMs = 60'000;
constexpr TimeMs kDayMs = 86'400'000;
constexpr int kSearchDays = 8 * 366;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

bool ToInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Parses one field into `bits` (index = value). Returns whether the field restricts
// anything (i.e. is not a bare "*").
template <size_t N>
Status ParseField(std::string_view text, const char* name, int lo, int hi, std::bitset<N>* bits,
                  bool* restricted) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("schedule: " + std::string(name) + " field '" +
                                   std::string(text) + "' " + std::string(why) + " (allowed " +
                                   std::to_string(lo) + ".." + std::to_string(hi) + ")");
  };
  *restricted = text != "*";
  for (std::string_view part : Split(text, ',')) {
    int step = 1;
    size_t slash = part.find('/');
    if (slash != std::string_view::npos) {
      if (!ToInt(part.substr(slash + 1), &step) || step < 1 || step > hi)
        return bad("has a bad step");
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      size_t dash = part.find('-');
      if (dash == std::string_view::npos) {
        if (!ToInt(part, &a)) return bad("is not a number");
        b = slash == std::string_view::npos ? a : hi;
      } else if (!ToInt(part.substr(0, dash), &a) || !ToInt(part.substr(dash + 1), &b)) {
        return bad("has a bad range");
      }
    }
    if (a < lo || b > hi || a > b) return bad("is out of range");
    for (int v = a; v <= b; v += step) bits->set(static_cast<size_t>(v));
  }
  return Status::Ok();
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expr) {
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(expr, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument("schedule: '" + std::string(expr) + "' has " +
                                   std::to_string(fields.size()) +
                                   " fields; cron needs 5 (minute hour day-of-month month "
                                   "day-of-week)");
  }
  CronSchedule c;
  bool unused = false;
  ITHAPPENS_RETURN_IF_ERROR(ParseField(fields[0], "minute", 0, 59, &c.minutes_, &unused));
  ITHAPPENS_RETURN_IF_ERROR(ParseField(fields[1], "hour", 0, 23, &c.hours_, &unused));
  ITHAPPENS_RETURN_IF_ERROR(
      ParseField(fields[2], "day-of-month", 1, 31, &c.days_of_month_, &c.dom_restricted_));
  ITHAPPENS_RETURN_IF_ERROR(ParseField(fields[3], "month", 1, 12, &c.months_, &unused));
  std::bitset<8> dow;
  ITHAPPENS_RETURN_IF_ERROR(ParseField(fields[4], "day-of-week", 0, 7, &dow, &c.dow_restricted_));
  for (size_t i = 0; i < 7; ++i) c.days_of_week_[i] = dow[i];
  if (dow[7]) c.days_of_week_[0] = true;
  if (c.NextAfter(0) < 0) {
    return Status::InvalidArgument("schedule: '" + std::string(expr) + "' never fires");
  }
  return c;
}

bool CronSchedule::DayMatches(int64_t days) const {
  using namespace std::chrono;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  unsigned month = static_cast<unsigned>(ymd.month());
  unsigned dom = static_cast<unsigned>(ymd.day());
  unsigned dow = weekday{sys_days{std::chrono::days{days}}}.c_encoding();
  if (!months_[month]) return false;
  bool dom_ok = days_of_month_[dom];
  bool dow_ok = days_of_week_[dow];
  if (dom_restricted_ && dow_restricted_) return dom_ok || dow_ok;
  return dom_ok && dow_ok;
}

bool CronSchedule::Matches(TimeMs t) const {
  if (t % kMinuteMs != 0) return false;
  int64_t days = t >= 0 ? t / kDayMs : (t - kDayMs + 1) / kDayMs;
  TimeMs in_day = t - days * kDayMs;
  return DayMatches(days) && hours_[in_day / 3'600'000] && minutes_[(in_day / kMinuteMs) % 60];
}

TimeMs CronSchedule::NextAfter(TimeMs t) const {
  // Start at the first whole minute strictly after t.
  TimeMs start = (t >= 0 ? t / kMinuteMs : (t - kMinuteMs + 1) / kMinuteMs) * kMinuteMs + kMinuteMs;
  int64_t day = start >= 0 ? start / kDayMs : (start - kDayMs + 1) / kDayMs;
  int first_minute_of_day = static_cast<int>((start - day * kDayMs) / kMinuteMs);
  for (int i = 0; i < kSearchDays; ++i, ++day, first_minute_of_day = 0) {
    if (!DayMatches(day)) continue;
    for (int m = first_minute_of_day; m < 24 * 60; ++m) {
      if (hours_[m / 60] && minutes_[m % 60]) return day * kDayMs + m * kMinuteMs;
    }
  }
  return -1;
}

}  // namespace ithappens::engine
