// Internal state of the Queue. Everything here is guarded by QueueImpl::mu_.
//
// Memory layout, chosen for the simulator's budget (millions of lifecycles per second):
// tasks live in one vector indexed by TaskIndex (creation order); the id map points into
// the immutable definitions; pending work, leases and deadlines are min-heaps with lazy
// deletion (an entry is checked against the task when it surfaces). Pending work is
// ordered by (scheduled time, task creation order) within a priority level: a pure
// function of the durable state, so the order is the same after a restart.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/cron.h"
#include "engine/queue.h"
#include "engine/task_id_index.h"

namespace ithappens::engine {

using TaskIndex = uint32_t;

// Task indices of a task's dependencies or dependents. Most tasks have none: an empty list
// is one null pointer (a vector would be 24 bytes in every task's entry). Move-only, as
// the entries are.
class IndexList {
 public:
  IndexList() = default;
  IndexList(IndexList&&) noexcept = default;
  IndexList& operator=(IndexList&&) noexcept = default;
  // Takes the indices of v (none: no allocation).
  IndexList& operator=(std::vector<TaskIndex>&& v) {
    v_ = v.empty() ? nullptr : std::make_unique<Vec>(std::move(v));
    return *this;
  }
  void push_back(TaskIndex i) {
    if (!v_) v_ = std::make_unique<Vec>();
    v_->push_back(i);
  }
  size_t size() const { return v_ ? v_->size() : 0; }
  bool empty() const { return size() == 0; }
  TaskIndex operator[](size_t k) const { return (*v_)[k]; }
  const TaskIndex* begin() const { return v_ ? v_->data() : nullptr; }
  const TaskIndex* end() const { return v_ ? v_->data() + v_->size() : nullptr; }

 private:
  using Vec = std::vector<TaskIndex>;
  std::unique_ptr<Vec> v_;
};

// One task's state: 88 bytes, its runs and any dependency lists apart (a batch of 10^6
// holds 10^6 of these).
struct TaskEntry {
  TaskDefinitionPtr def;
  std::vector<Run> runs;
  IndexList deps;        // def->dependencies, resolved to indices
  IndexList dependents;  // reverse edges, in the dependents' creation order
  int retries_left = 0;
  uint32_t next_in_group = UINT32_MAX;  // the group's next task in creation order
  bool ever_completed = false;          // some run completed (satisfies all-completed)
  bool ever_resolved = false;           // the task was resolved at some point (all-resolved)

  TaskState state() const {
    return runs.empty() ? TaskState::kUnscheduled : TaskStateOf(runs.back().state);
  }
};
static_assert(sizeof(TaskEntry) <= 72, "a task entry is held per task: keep it small");

struct TimedRef {
  TimeMs at_ms;
  TaskIndex task;
  uint32_t run_id;
  bool operator>(const TimedRef& o) const {
    if (at_ms != o.at_ms) return at_ms > o.at_ms;
    if (task != o.task) return task > o.task;
    return run_id > o.run_id;
  }
};
using MinHeap = std::priority_queue<TimedRef, std::vector<TimedRef>, std::greater<TimedRef>>;

struct HookState {
  std::shared_ptr<const HookDefinition> def;
  CronSchedule schedule;
  TimeMs last_fire_ms = 0;
  // schedule.NextAfter(last_fire_ms), computed when last_fire_ms changes (a tick checks
  // every hook; the cron walk is the expensive part).
  TimeMs NextFire() {
    if (next_for_ms_ != last_fire_ms || !next_known_) {
      next_fire_ms_ = schedule.NextAfter(last_fire_ms);
      next_for_ms_ = last_fire_ms;
      next_known_ = true;
    }
    return next_fire_ms_;
  }

 private:
  TimeMs next_fire_ms_ = -1, next_for_ms_ = 0;
  bool next_known_ = false;
};

struct GroupList {
  TaskIndex first;
  TaskIndex last;
};

class QueueImpl {
 public:
  QueueImpl(Store* store, const Clock* clock, QueueOptions options);

  // Runs body under the mutex after recovery and due-time processing, submits whatever it
  // wrote, and waits for durability outside the mutex. A durability failure wins over
  // body's own answer: nothing is acknowledged.
  template <typename Body>
  Status Mutate(Body&& body, TickCounts* due = nullptr);

  Status ReloadLocked();

  // ---- operations (all *Locked: mu_ held) ----
  // def is normalized in place and, if the task is new, kept as the shared definition.
  // *index (if given): the task's, on OK (new or found equal).
  Status CreateLocked(std::shared_ptr<TaskDefinition> def, bool check_created_window,
                      TaskStatus* status, bool* created, TaskIndex* index = nullptr);
  // CreateLocked after its validation: def is valid and has its defaults; kept as it is if
  // the task is new.
  Status CreateValidLocked(TaskDefinitionPtr def, bool check_created_window, TaskStatus* status,
                           bool* created, TaskIndex* index = nullptr);
  Status ClaimLocked(std::string_view group, std::string_view id, int n, std::vector<Claim>* out);
  Status ReclaimLocked(const RunRef& ref, TimeMs* taken_until);
  Status ReportLocked(const RunRef& ref, RunState outcome, ReasonResolved reason,
                      TaskStatus* status);
  Status CancelLocked(std::string_view task_id, TaskStatus* status);
  Status RerunLocked(std::string_view task_id, TaskStatus* status);
  Status CreateHookLocked(HookDefinition hook);
  Status RemoveHookLocked(std::string_view hook_id);
  Status ListGroupLocked(std::string_view group, std::string_view continuation, int limit,
                         ListGroupPage* page);

  // ---- time (queue_time.cc) ----
  void ProcessDueLocked(TickCounts* counts);
  int FireHooksLocked();

  // ---- helpers ----
  TaskEntry* Find(std::string_view task_id, TaskIndex* index = nullptr);
  Status FindOrNotFound(std::string_view task_id, TaskIndex* index);
  void BuildStatus(TaskIndex i, TaskStatus* out) const;
  std::optional<TaskIndex> RootCause(TaskIndex i) const;
  bool DepSatisfied(const TaskEntry& dependent, TaskIndex dep) const;
  bool AllDepsSatisfied(const TaskEntry& e) const;
  // Appends a run in state pending (or a resolved exception run for reason_created
  // kException) and records it.
  void AddPendingRun(TaskIndex i, ReasonCreated why);
  void AddExceptionRunUnscheduled(TaskIndex i, ReasonResolved reason);
  // Resolves the task's current run; retries when the reason is retryable and retries are
  // left; notifies dependents when the task ends up resolved.
  void ResolveRun(TaskIndex i, RunState outcome, ReasonResolved reason);
  void OnTaskResolved(TaskIndex i);
  void WriteRun(TaskIndex i, uint32_t run_id);
  WorkerPtr InternWorker(std::string_view group, std::string_view id);
  std::string RandomTaskId();

  Store* store_;
  const Clock* clock_;
  QueueOptions options_;

  std::mutex mu_;
  bool needs_recovery_ = false;
  // Recoveries so far. A call whose batch fails only asks for one if none happened since
  // it submitted: a recovery fails every batch not yet durable and reloads, so a failure it
  // already covered needs no second reload (which would fail the batches of calls that
  // came after it, and theirs the next: a storm of reloads).
  uint64_t recoveries_ = 0;
  uint64_t last_seq_ = 0;  // last sequence submitted to the store
  WriteBatch batch_;       // changes of the call in progress

  std::vector<TaskEntry> tasks_;
  // Tasks per state, kept as each run changes state (CountByState without a scan: the
  // simulator asks once per simulated tick near the end of a run). Moved() at every
  // change of a task's latest run; Recount() after a reload.
  std::array<int64_t, 6> state_counts_{};
  void Moved(TaskState from, TaskState to) {
    --state_counts_[static_cast<size_t>(from)];
    ++state_counts_[static_cast<size_t>(to)];
  }
  void Recount() {
    state_counts_.fill(0);
    for (const TaskEntry& e : tasks_) ++state_counts_[static_cast<size_t>(e.state())];
  }
  TaskIdIndex by_id_;  // task id -> index into tasks_
  // Task groups: a flat index to each group's first and last member; members are linked
  // through TaskEntry::next_in_group.
  TaskIdIndex group_index_;
  std::vector<GroupList> groups_;
  void AddToGroup(TaskIndex i);
  MinHeap pending_[kPriorityLevels];  // (scheduled, task, run) of pending runs
  MinHeap leases_;                    // (taken_until, task, run) of running runs
  MinHeap deadlines_;                 // (deadline, task, 0) of unresolved tasks
  std::map<std::string, HookState, std::less<>> hooks_;
  // The earliest next fire of any hook (-1: none will fire), as FireHooksLocked last found
  // it; a tick before it has nothing to fire and walks no hook. Forgotten (hooks_due_known_
  // false) whenever hooks_ changes other than by firing: creation, removal, reload.
  TimeMs hooks_due_ms_ = -1;
  bool hooks_due_known_ = false;
  std::unordered_map<std::string, WorkerPtr> workers_;
  uint64_t rng_state_;
};

template <typename Body>
Status QueueImpl::Mutate(Body&& body, TickCounts* due) {
  std::unique_lock<std::mutex> lock(mu_);
  if (needs_recovery_) {
    Status st = store_->Recover();
    if (!st.ok()) return Status::Unavailable(st.WithContext("queue recovery").message());
    st = ReloadLocked();
    if (!st.ok()) return Status::Unavailable(st.WithContext("queue reload").message());
    needs_recovery_ = false;
    recoveries_++;
    last_seq_ = 0;  // Recover left only durable data: nothing to wait for
  }
  ProcessDueLocked(due);
  Status result = body();
  if (!batch_.empty()) last_seq_ = store_->Submit(batch_);
  uint64_t seq = last_seq_;
  const uint64_t epoch = recoveries_;
  lock.unlock();
  if (options_.bugs.ack_before_commit) return result;  // the bug: acknowledge before durable
  if (seq == 0) return result;
  Status durable = store_->WaitDurable(seq);
  if (durable.ok()) return result;
  lock.lock();
  if (recoveries_ == epoch) needs_recovery_ = true;
  return Status::Unavailable(durable.WithContext("not acknowledged").message());
}

}  // namespace ithappens::engine
