// The task model, with Taskcluster's names. Enum string forms are exactly Taskcluster's
// ("unscheduled", "claim-expired", ...); ToString/Parse convert both ways.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/clock.h"
#include "engine/status.h"

namespace ithappens::engine {

// ---- Bounds. Every one of them is named in the error that enforces it. ----
inline constexpr int kTaskIdLength = 22;  // URL-safe base64 of 16 bytes
inline constexpr int kMaxRetries = 49;    // retries: 0..49
inline constexpr int kDefaultRetries = 5;
inline constexpr int kMaxRunsPerTask = 50;  // 1 + kMaxRetries; reruns count too
inline constexpr size_t kMaxDependencies = 100;
inline constexpr size_t kMaxRoutes = 64;
inline constexpr size_t kMaxRouteLength = 249;
inline constexpr size_t kMaxPayloadBytes = 64 * 1024;
inline constexpr size_t kMaxMetadataNameLength = 255;
inline constexpr size_t kMaxMetadataDescriptionLength = 32 * 1024;
inline constexpr size_t kMaxMetadataOwnerLength = 255;
inline constexpr size_t kMaxMetadataSourceLength = 4096;
inline constexpr size_t kMaxWorkerIdLength = 128;
inline constexpr TimeMs kMaxDeadlineAfterCreatedMs = 5LL * 24 * 3600 * 1000;  // 5 days
inline constexpr TimeMs kMaxCreatedSkewMs = 15LL * 60 * 1000;                 // |created-now|
inline constexpr TimeMs kDefaultExpiresAfterDeadlineMs = 365LL * 24 * 3600 * 1000;
inline constexpr int kMaxClaimBatch = 1000;     // claimWork n: 1..1000
inline constexpr int kMaxListLimit = 1000;      // listTaskGroup limit: 1..1000
inline constexpr size_t kMaxBatchItems = 1000;  // createTasks / reportCompletedBatch

enum class TaskState : uint8_t {
  kUnscheduled,
  kPending,
  kRunning,
  kCompleted,
  kFailed,
  kException
};
enum class RunState : uint8_t { kPending, kRunning, kCompleted, kFailed, kException };
enum class ReasonCreated : uint8_t { kScheduled, kRetry, kTaskRetry, kRerun, kException };
enum class ReasonResolved : uint8_t {
  kNone,  // not resolved yet (Taskcluster leaves the field out)
  kCompleted,
  kFailed,
  kDeadlineExceeded,
  kCanceled,
  kClaimExpired,
  kWorkerShutdown,
  kMalformedPayload,
  kResourceUnavailable,
  kInternalError,
  kIntermittentTask,
};
enum class Requires : uint8_t { kAllCompleted, kAllResolved };
// Taskcluster's priority levels, highest first ("normal" is its legacy alias of lowest).
enum class Priority : uint8_t {
  kHighest,
  kVeryHigh,
  kHigh,
  kMedium,
  kLow,
  kVeryLow,
  kLowest,
  kNormal
};
inline constexpr int kPriorityLevels = 8;

std::string_view ToString(TaskState s);
std::string_view ToString(RunState s);
std::string_view ToString(ReasonCreated r);
std::string_view ToString(ReasonResolved r);
std::string_view ToString(Requires r);
std::string_view ToString(Priority p);
// Parse functions return false on an unknown name and leave *out untouched.
bool Parse(std::string_view s, TaskState* out);
bool Parse(std::string_view s, RunState* out);
bool Parse(std::string_view s, ReasonCreated* out);
bool Parse(std::string_view s, ReasonResolved* out);
bool Parse(std::string_view s, Requires* out);
bool Parse(std::string_view s, Priority* out);

// A task's state is the state of its latest run (unscheduled when it has none).
inline TaskState TaskStateOf(RunState latest_run) {
  switch (latest_run) {
    case RunState::kPending:
      return TaskState::kPending;
    case RunState::kRunning:
      return TaskState::kRunning;
    case RunState::kCompleted:
      return TaskState::kCompleted;
    case RunState::kFailed:
      return TaskState::kFailed;
    case RunState::kException:
      return TaskState::kException;
  }
  return TaskState::kException;
}

inline bool IsResolved(TaskState s) {
  return s == TaskState::kCompleted || s == TaskState::kFailed || s == TaskState::kException;
}
inline bool IsResolved(RunState s) {
  return s == RunState::kCompleted || s == RunState::kFailed || s == RunState::kException;
}
// Reasons a worker may give in reportException.
bool IsWorkerExceptionReason(ReasonResolved r);
// Reasons that create a new run while retriesLeft > 0 (DESIGN.md, "Retries").
bool IsRetryableReason(ReasonResolved r);

// A text that is nearly always empty: one pointer, the text on the heap only when it has
// one (a std::string is 32 bytes in every definition). Reads as a string_view.
class SparseText {
 public:
  SparseText() = default;
  SparseText(const SparseText& o) { *this = o.view(); }
  SparseText& operator=(const SparseText& o) {
    if (this != &o) *this = o.view();
    return *this;
  }
  SparseText(SparseText&&) noexcept = default;
  SparseText& operator=(SparseText&&) noexcept = default;
  SparseText& operator=(std::string_view v) {
    text_ = v.empty() ? nullptr : std::make_unique<std::string>(v);
    return *this;
  }
  SparseText& operator=(const std::string& v) { return *this = std::string_view(v); }
  SparseText& operator=(std::string&& v) {
    text_ = v.empty() ? nullptr : std::make_unique<std::string>(std::move(v));
    return *this;
  }
  SparseText& operator=(const char* v) { return *this = std::string_view(v); }
  std::string_view view() const { return text_ ? std::string_view(*text_) : std::string_view(); }
  operator std::string_view() const { return view(); }  // NOLINT: reads as its text
  std::string str() const { return std::string(view()); }
  size_t size() const { return view().size(); }
  bool empty() const { return size() == 0; }
  bool operator==(const SparseText& o) const { return view() == o.view(); }

 private:
  std::unique_ptr<std::string> text_;
};

struct TaskMetadata {
  std::string name;
  // Rarely set (a definition is held per task: 3 x 8 bytes, not 3 x 32).
  SparseText description;
  SparseText owner;
  SparseText source;
  bool operator==(const TaskMetadata&) const = default;
};

// What a client submits. Immutable once created: the queue shares it as
// std::shared_ptr<const TaskDefinition> with the store and with claimers. Held once per
// task (by the engine, and in sim mode by the plan too): the one-byte fields sit together,
// no padding between the 8-byte ones.
struct TaskDefinition {
  std::string task_id;
  std::string task_group_id;  // empty on input means "= task_id"
  std::vector<std::string> dependencies;
  Requires requires_ = Requires::kAllCompleted;
  Priority priority = Priority::kLowest;
  int retries = kDefaultRetries;
  TimeMs created_ms = 0;
  TimeMs deadline_ms = 0;
  TimeMs expires_ms = 0;  // 0 on input means deadline + 1 year
  std::vector<std::string> routes;
  std::string payload;  // opaque to the engine (the worker's program, JSON)
  TaskMetadata metadata;
  bool operator==(const TaskDefinition&) const = default;
};
static_assert(sizeof(TaskDefinition) <= 232);
using TaskDefinitionPtr = std::shared_ptr<const TaskDefinition>;

// The defaults a queue fills in on create: taskGroupId = taskId, expires = deadline + 1
// year. A definition that has them already is stored as it is (Queue::CreateTask with a
// TaskDefinitionPtr keeps the caller's object instead of a copy).
inline bool HasDefaults(const TaskDefinition& def) {
  return !def.task_group_id.empty() && def.expires_ms != 0;
}
inline void FillDefaults(TaskDefinition* def) {
  if (def->task_group_id.empty()) def->task_group_id = def->task_id;
  if (def->expires_ms == 0) def->expires_ms = def->deadline_ms + kDefaultExpiresAfterDeadlineMs;
}

// The identity of a worker. Interned by the queue; runs share it.
struct WorkerIdentity {
  std::string group;
  std::string id;
};
using WorkerPtr = std::shared_ptr<const WorkerIdentity>;

struct Run {
  uint32_t run_id = 0;
  RunState state = RunState::kPending;
  ReasonCreated reason_created = ReasonCreated::kScheduled;
  ReasonResolved reason_resolved = ReasonResolved::kNone;
  WorkerPtr worker;           // set once claimed
  TimeMs taken_until_ms = 0;  // lease end while running
  TimeMs scheduled_ms = 0;
  TimeMs started_ms = 0;
  TimeMs resolved_ms = 0;
};
bool operator==(const Run& a, const Run& b);

// Taskcluster's task status structure, plus blockedBy: the root-cause task that keeps an
// unscheduled task from ever running (a failed upstream), when there is one.
struct TaskStatus {
  std::string task_id;
  std::string task_group_id;
  TaskState state = TaskState::kUnscheduled;
  int retries_left = 0;
  TimeMs deadline_ms = 0;
  TimeMs expires_ms = 0;
  std::vector<Run> runs;
  std::optional<std::string> blocked_by;
};

// One task handed to a worker by claimWork.
struct Claim {
  TaskDefinitionPtr task;
  uint32_t run_id = 0;
  TimeMs taken_until_ms = 0;
};

// Fencing token of every worker report: the run and the worker that claims it.
struct RunRef {
  std::string_view task_id;
  uint32_t run_id = 0;
  std::string_view worker_group;
  std::string_view worker_id;
};

// Cron-style hook: on each fire time of `schedule` the queue creates a task from
// `task_template` whose id is DeterministicTaskId(hook_id, fire_time, key), so a hook that
// fires twice for the same time creates nothing twice.
struct HookDefinition {
  std::string hook_id;
  std::string schedule;          // 5-field cron, UTC (see engine/cron.h)
  std::string key;               // mixed into the task id (e.g. one hook per patient)
  TaskDefinition task_template;  // task_id ignored; times are offsets from the fire time:
                                 // deadline_ms/expires_ms relative, created_ms unused
  bool operator==(const HookDefinition&) const = default;
};

// Task ids: 22 characters of URL-safe base64 encoding 16 bytes (the last one of "AQgw").
bool IsValidSlug(std::string_view s);
// Encodes 16 bytes as a slug.
std::string EncodeSlug(const uint8_t bytes[16]);
// hash(hook_id, fire_time_ms, key) -> slug. Stable across builds and platforms.
std::string DeterministicTaskId(std::string_view hook_id, TimeMs fire_time_ms,
                                std::string_view key);

}  // namespace ithappens::engine
