// What a history looks like over time, for the report's plot: tasks per state as the
// harness observed them (create ok: pending; a hook's fire: pending from the fire time;
// claimed: running; an accepted report: its outcome; the final read: the platform's last
// word, placed when the last run resolved if it is terminal), sampled at evenly spaced
// times, and the fault windows (each "X-start" paired with its "X-stop").
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ithappens::harness {

struct FaultSpan {
  std::string kind;
  std::string target;
  double start_s = 0;
  double end_s = 0;
};

struct Timeline {
  std::vector<double> t_s;
  std::map<std::string, std::vector<int64_t>> tasks;  // state -> count at each t_s
  std::vector<FaultSpan> faults;
};

// False (with *error naming the line) on a malformed history.
bool BuildTimeline(const std::string& history_path, int samples, Timeline* out, std::string* error);

}  // namespace ithappens::harness
