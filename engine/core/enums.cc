// String forms of the task model's enums: exactly Taskcluster's spellings.
#include <array>
#include <string_view>

#include "engine/task.h"

namespace ithappens::engine {
namespace {

constexpr std::array<std::string_view, 6> kTaskStates = {"unscheduled", "pending", "running",
                                                         "completed",   "failed",  "exception"};
constexpr std::array<std::string_view, 5> kRunStates = {"pending", "running", "completed", "failed",
                                                        "exception"};
constexpr std::array<std::string_view, 5> kReasonsCreated = {"scheduled", "retry", "task-retry",
                                                             "rerun", "exception"};
constexpr std::array<std::string_view, 11> kReasonsResolved = {"",
                                                               "completed",
                                                               "failed",
                                                               "deadline-exceeded",
                                                               "canceled",
                                                               "claim-expired",
                                                               "worker-shutdown",
                                                               "malformed-payload",
                                                               "resource-unavailable",
                                                               "internal-error",
                                                               "intermittent-task"};
constexpr std::array<std::string_view, 2> kRequires = {"all-completed", "all-resolved"};
constexpr std::array<std::string_view, kPriorityLevels> kPriorities = {
    "highest", "very-high", "high", "medium", "low", "very-low", "lowest", "normal"};

template <typename E, size_t N>
std::string_view Name(const std::array<std::string_view, N>& names, E e) {
  auto i = static_cast<size_t>(e);
  return i < N ? names[i] : std::string_view("?");
}

template <typename E, size_t N>
bool ParseName(const std::array<std::string_view, N>& names, std::string_view s, E* out) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s && !s.empty()) {
      *out = static_cast<E>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view ToString(TaskState s) { return Name(kTaskStates, s); }
std::string_view ToString(RunState s) { return Name(kRunStates, s); }
std::string_view ToString(ReasonCreated r) { return Name(kReasonsCreated, r); }
std::string_view ToString(ReasonResolved r) { return Name(kReasonsResolved, r); }
std::string_view ToString(Requires r) { return Name(kRequires, r); }
std::string_view ToString(Priority p) { return Name(kPriorities, p); }
bool Parse(std::string_view s, TaskState* out) { return ParseName(kTaskStates, s, out); }
bool Parse(std::string_view s, RunState* out) { return ParseName(kRunStates, s, out); }
bool Parse(std::string_view s, ReasonCreated* out) { return ParseName(kReasonsCreated, s, out); }
bool Parse(std::string_view s, ReasonResolved* out) { return ParseName(kReasonsResolved, s, out); }
bool Parse(std::string_view s, Requires* out) { return ParseName(kRequires, s, out); }
bool Parse(std::string_view s, Priority* out) { return ParseName(kPriorities, s, out); }

bool IsWorkerExceptionReason(ReasonResolved r) {
  switch (r) {
    case ReasonResolved::kWorkerShutdown:
    case ReasonResolved::kMalformedPayload:
    case ReasonResolved::kResourceUnavailable:
    case ReasonResolved::kInternalError:
    case ReasonResolved::kIntermittentTask:
      return true;
    default:
      return false;
  }
}

bool IsRetryableReason(ReasonResolved r) {
  return r == ReasonResolved::kWorkerShutdown || r == ReasonResolved::kClaimExpired ||
         r == ReasonResolved::kIntermittentTask;
}

bool operator==(const Run& a, const Run& b) {
  auto same_worker = [](const WorkerPtr& x, const WorkerPtr& y) {
    if (!x || !y) return !x && !y;
    return x->group == y->group && x->id == y->id;
  };
  return a.run_id == b.run_id && a.state == b.state && a.reason_created == b.reason_created &&
         a.reason_resolved == b.reason_resolved && same_worker(a.worker, b.worker) &&
         a.taken_until_ms == b.taken_until_ms && a.scheduled_ms == b.scheduled_ms &&
         a.started_ms == b.started_ms && a.resolved_ms == b.resolved_ms;
}

}  // namespace ithappens::engine
