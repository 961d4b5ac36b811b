// The reference task queue, with Taskcluster's semantics (DESIGN.md, "The reference engine").
//
// Thread-safety: every method is thread-safe. Changes are applied in memory under one
// mutex, submitted to the Store in that order, and acknowledged only after the store says
// they are durable; concurrent callers share one commit (group commit, if the store does).
// Reads also wait until the state they saw is durable, so nobody observes a change that a
// crash could take back.
//
// Failure: when the store fails a commit, the call returns UNAVAILABLE and nothing of it
// is acknowledged. The queue then rebuilds its memory from the store (Store::Recover, then
// Load) before serving the next call, so memory never holds a change the disk refused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/bugs.h"
#include "engine/clock.h"
#include "engine/status.h"
#include "engine/store.h"
#include "engine/task.h"
#include "engine/wire_size.h"

namespace ithappens::engine {

struct QueueOptions {
  TimeMs claim_timeout_ms = 20 * 60 * 1000;  // lease length of claimWork and reclaimTask
  BugSwitches bugs;
  // Seed for the random-task-ids bug (the only randomness in the engine).
  uint64_t bug_seed = 1;
  // The bytes an answer that grows may fill (engine/wire_size.h): a claim batch stops
  // before a claim that would not fit (so nothing is handed out that cannot be sent), a
  // page of a task group ends early with a continuation token. At least one item always
  // goes out (every item is far below the cap).
  size_t response_budget_bytes = kResponseBudgetBytes;
  // A capacity hint: room for this many tasks is made when the queue opens (the simulator
  // knows its plan's size), so the task table and its index do not double, and copy
  // themselves, as a batch is created. Nothing is refused past it.
  size_t expected_tasks = 0;
};

struct TickCounts {
  int claims_expired = 0;
  int deadlines_exceeded = 0;
  int hook_tasks_created = 0;
};

struct ListGroupPage {
  std::vector<TaskStatus> tasks;
  std::string continuation;  // empty when there is no more
};

class QueueImpl;

class Queue {
 public:
  // Loads the durable state from store. store and clock must outlive the queue.
  static Result<std::unique_ptr<Queue>> Open(Store* store, const Clock* clock,
                                             QueueOptions options = {});
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Idempotent: the same id with the same definition answers OK with the current status;
  // a different definition is ALREADY_EXISTS naming the first field that differs.
  // Dependencies must exist. The task is pending at once if its dependencies are satisfied.
  Status CreateTask(TaskDefinition def, TaskStatus* status = nullptr);
  // The same for a definition the caller keeps and may send again (a cron filler
  // re-creating its appointments). A definition with its defaults (HasDefaults) is kept as
  // the very object sent, not a copy; a request that is the object the task holds is equal
  // to it (a definition behind a TaskDefinitionPtr never changes), so it is answered
  // without copying or comparing it. Any other object is compared.
  Status CreateTask(TaskDefinitionPtr def, TaskStatus* status = nullptr);
  // Creates many tasks as one change: one commit and one fsync for the batch. Each item
  // gets its own answer in *results (and its status in *statuses, if given); if the commit
  // fails, every item that was OK is UNAVAILABLE and so is the call. At most
  // kMaxBatchItems items (RESOURCE_EXHAUSTED beyond).
  Status CreateTasks(std::vector<TaskDefinition> defs, std::vector<Status>* results,
                     std::vector<TaskStatus>* statuses = nullptr);
  Status GetStatus(std::string_view task_id, TaskStatus* status);
  Result<TaskDefinitionPtr> GetTask(std::string_view task_id);
  // Tasks of a group in creation order, limit 1..kMaxListLimit per page; a page also ends
  // where the next status would not fit response_budget_bytes.
  Result<ListGroupPage> ListTaskGroup(std::string_view task_group_id, std::string_view continuation,
                                      int limit);

  // Hands out up to n (1..kMaxClaimBatch) pending tasks, highest priority first, then
  // oldest first, each with a lease of claim_timeout_ms. Appends to *claims. Fewer than n
  // when the answer would not fit response_budget_bytes: the rest stay pending.
  Status ClaimWork(std::string_view worker_group, std::string_view worker_id, int n,
                   std::vector<Claim>* claims);
  // Extends the lease of a running run held by this worker.
  Status ReclaimTask(const RunRef& run, TimeMs* taken_until_ms);

  // Resolve a run. Fenced: the run must be the task's current run, running, and claimed by
  // this worker (FAILED_PRECONDITION otherwise); repeating a report that already took
  // effect is OK and changes nothing.
  Status ReportCompleted(const RunRef& run, TaskStatus* status = nullptr);
  Status ReportFailed(const RunRef& run, TaskStatus* status = nullptr);
  Status ReportException(const RunRef& run, ReasonResolved reason, TaskStatus* status = nullptr);
  // ReportCompleted for many runs as one change (one fsync); per-item answers as CreateTasks.
  Status ReportCompletedBatch(const std::vector<RunRef>& runs, std::vector<Status>* results);

  // Idempotent. Cancel resolves an unresolved task as exception/canceled (never retried).
  Status CancelTask(std::string_view task_id, TaskStatus* status = nullptr);
  // Idempotent. A resolved task gets a new pending run (reasonCreated "rerun"); a pending or
  // running task is left as it is.
  Status RerunTask(std::string_view task_id, TaskStatus* status = nullptr);

  // Hooks. Creating the same hook again is OK; a different definition is ALREADY_EXISTS.
  Status CreateHook(HookDefinition hook);
  Status RemoveHook(std::string_view hook_id);

  // Reaps expired claims, resolves tasks past their deadline and fires due hooks, at the
  // clock's now. Expired claims and deadlines are also processed at the start of every
  // changing call, so Tick only makes them happen without traffic.
  Result<TickCounts> Tick();

  // Number of tasks known, by task state (index = TaskState). Cheap.
  std::vector<int64_t> CountByState();
  // True after a commit failed (a write or fsync error), until the next call has recovered
  // the store and reloaded the queue from it: the engine "crashes and recovers from the
  // log" (DESIGN.md, "Durability"). A host can model the restart's downtime with it.
  bool NeedsRecovery();
  const QueueOptions& options() const;

 private:
  explicit Queue(std::unique_ptr<QueueImpl> impl);
  std::unique_ptr<QueueImpl> impl_;
};

}  // namespace ithappens::engine
