// The queue's calls: create, claim, reclaim, report, cancel, rerun, hooks, listing.
// Time-driven changes (lease expiry, deadlines, hook fires) are in queue_time.cc;
// rebuilding memory from the store is in queue_recovery.cc.
#include <algorithm>
#include <charconv>

#include "engine/hash.h"
#include "engine/core/queue_impl.h"
#include "engine/core/validate.h"

namespace ithappens::engine {

QueueImpl::QueueImpl(Store* store, const Clock* clock, QueueOptions options)
    : store_(store), clock_(clock), options_(options), rng_state_(Mix64(options.bug_seed)) {}

// ---------------------------------------------------------------- helpers

TaskEntry* QueueImpl::Find(std::string_view task_id, TaskIndex* index) {
  TaskIndex i = by_id_.Find(
      task_id, [this](TaskIndex k) -> std::string_view { return tasks_[k].def->task_id; });
  if (i == TaskIdIndex::kNone) return nullptr;
  if (index) *index = i;
  return &tasks_[i];
}

Status QueueImpl::FindOrNotFound(std::string_view task_id, TaskIndex* index) {
  if (Find(task_id, index)) return Status::Ok();
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskId(task_id, "taskId"));
  return Status::NotFound("taskId: task '" + std::string(task_id) + "' does not exist");
}

WorkerPtr QueueImpl::InternWorker(std::string_view group, std::string_view id) {
  std::string key;
  key.reserve(group.size() + id.size() + 1);
  key.append(group).push_back('\0');
  key.append(id);
  auto it = workers_.find(key);
  if (it != workers_.end()) return it->second;
  auto w =
      std::make_shared<const WorkerIdentity>(WorkerIdentity{std::string(group), std::string(id)});
  workers_.emplace(std::move(key), w);
  return w;
}

std::string QueueImpl::RandomTaskId() {
  uint8_t bytes[16];
  for (int half = 0; half < 2; ++half) {
    uint64_t r = Mix64(rng_state_++);
    for (int i = 0; i < 8; ++i) bytes[half * 8 + i] = static_cast<uint8_t>(r >> (8 * i));
  }
  return EncodeSlug(bytes);
}

void QueueImpl::WriteRun(TaskIndex i, uint32_t run_id) {
  const TaskEntry& e = tasks_[i];
  batch_.runs.push_back(RunRecord{e.def, i, e.retries_left, e.runs[run_id]});
}

bool QueueImpl::DepSatisfied(const TaskEntry& dependent, TaskIndex dep) const {
  const TaskEntry& d = tasks_[dep];
  const bool all_completed =
      dependent.def->requires_ == Requires::kAllCompleted || options_.bugs.requires_ignored;
  return all_completed ? d.ever_completed : d.ever_resolved;
}

bool QueueImpl::AllDepsSatisfied(const TaskEntry& e) const {
  for (TaskIndex d : e.deps) {
    if (!DepSatisfied(e, d)) return false;
  }
  return true;
}

void QueueImpl::AddPendingRun(TaskIndex i, ReasonCreated why) {
  TaskEntry& e = tasks_[i];
  Moved(e.state(), TaskState::kPending);
  Run run;
  run.run_id = static_cast<uint32_t>(e.runs.size());
  run.state = RunState::kPending;
  run.reason_created = why;
  run.scheduled_ms = clock_->NowMs();
  e.runs.push_back(std::move(run));
  pending_[static_cast<int>(e.def->priority)].push(
      TimedRef{e.runs.back().scheduled_ms, i, e.runs.back().run_id});
  WriteRun(i, e.runs.back().run_id);
}

void QueueImpl::AddExceptionRunUnscheduled(TaskIndex i, ReasonResolved reason) {
  TaskEntry& e = tasks_[i];
  Moved(e.state(), TaskState::kException);
  Run run;
  run.run_id = static_cast<uint32_t>(e.runs.size());
  run.state = RunState::kException;
  run.reason_created = ReasonCreated::kException;
  run.reason_resolved = reason;
  run.scheduled_ms = run.resolved_ms = clock_->NowMs();
  e.runs.push_back(std::move(run));
  WriteRun(i, e.runs.back().run_id);
  OnTaskResolved(i);
}

void QueueImpl::ResolveRun(TaskIndex i, RunState outcome, ReasonResolved reason) {
  TaskEntry& e = tasks_[i];
  Run& run = e.runs.back();
  const BugSwitches& bugs = options_.bugs;
  bool platform_fault =
      reason == ReasonResolved::kClaimExpired || reason == ReasonResolved::kWorkerShutdown;
  if (bugs.blame_user_for_platform && platform_fault) {
    outcome = RunState::kFailed;
    reason = ReasonResolved::kFailed;
  }
  Moved(e.state(), TaskStateOf(outcome));
  run.state = outcome;
  run.reason_resolved = reason;
  run.resolved_ms = clock_->NowMs();
  run.taken_until_ms = 0;
  if (outcome == RunState::kCompleted) e.ever_completed = true;
  WriteRun(i, run.run_id);

  bool retry = outcome == RunState::kException && IsRetryableReason(reason);
  if (bugs.retry_user_failures && outcome == RunState::kFailed) retry = true;
  const int floor = bugs.retries_off_by_one ? -1 : 0;
  if (retry && e.retries_left > floor && e.runs.size() < static_cast<size_t>(kMaxRunsPerTask)) {
    e.retries_left -= 1;
    AddPendingRun(i, reason == ReasonResolved::kIntermittentTask ? ReasonCreated::kTaskRetry
                                                                 : ReasonCreated::kRetry);
    return;
  }
  OnTaskResolved(i);
}

void QueueImpl::OnTaskResolved(TaskIndex i) {
  tasks_[i].ever_resolved = true;
  // Dependents that are still unscheduled may now have every dependency satisfied.
  // AddPendingRun never touches dependents lists, so iterating by index is safe.
  const size_t n = tasks_[i].dependents.size();
  for (size_t k = 0; k < n; ++k) {
    TaskIndex d = tasks_[i].dependents[k];
    const TaskEntry& dep = tasks_[d];
    if (!dep.runs.empty()) continue;  // already scheduled, resolved by deadline, or canceled
    if (AllDepsSatisfied(dep)) AddPendingRun(d, ReasonCreated::kScheduled);
  }
}

void QueueImpl::AddToGroup(TaskIndex i) {
  std::string_view group = tasks_[i].def->task_group_id;
  uint32_t g = group_index_.Find(group, [this](uint32_t k) -> std::string_view {
    return tasks_[groups_[k].first].def->task_group_id;
  });
  if (g == TaskIdIndex::kNone) {
    group_index_.Insert(group, static_cast<uint32_t>(groups_.size()));
    groups_.push_back(GroupList{i, i});
    return;
  }
  tasks_[groups_[g].last].next_in_group = i;
  groups_[g].last = i;
}

std::optional<TaskIndex> QueueImpl::RootCause(TaskIndex start) const {
  // Depth-first over unsatisfied dependencies; the first dependency that resolved badly
  // and itself ran (or was not blocked) is the root cause.
  std::vector<TaskIndex> stack{start};
  std::vector<TaskIndex> seen;
  while (!stack.empty()) {
    TaskIndex i = stack.back();
    stack.pop_back();
    const TaskEntry& e = tasks_[i];
    for (TaskIndex d : e.deps) {
      if (DepSatisfied(e, d)) continue;
      if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
      seen.push_back(d);
      const TaskEntry& de = tasks_[d];
      bool never_ran = std::all_of(de.runs.begin(), de.runs.end(), [](const Run& r) {
        return r.reason_created == ReasonCreated::kException;
      });
      TaskState s = de.state();
      if (s == TaskState::kFailed || s == TaskState::kException) {
        if (!never_ran) return d;
        // Resolved without running (deadline or cancel while blocked): look further up,
        // and blame it only if nothing upstream explains it.
        auto up = RootCause(d);
        return up ? up : std::optional<TaskIndex>(d);
      }
      if (s == TaskState::kUnscheduled) stack.push_back(d);
    }
  }
  return std::nullopt;
}

void QueueImpl::BuildStatus(TaskIndex i, TaskStatus* out) const {
  if (out == nullptr) return;
  const TaskEntry& e = tasks_[i];
  out->task_id = e.def->task_id;
  out->task_group_id = e.def->task_group_id;
  out->state = e.state();
  out->retries_left = e.retries_left;
  out->deadline_ms = e.def->deadline_ms;
  out->expires_ms = e.def->expires_ms;
  out->runs = e.runs;
  out->blocked_by.reset();
  bool never_ran = std::all_of(e.runs.begin(), e.runs.end(), [](const Run& r) {
    return r.reason_created == ReasonCreated::kException;
  });
  if (never_ran && !e.deps.empty()) {
    auto root = RootCause(i);
    if (root) out->blocked_by = tasks_[*root].def->task_id;
  }
}

// ---------------------------------------------------------------- create

namespace {
// Names the first field where two definitions of the same task id differ.
std::string_view FirstDifference(const TaskDefinition& a, const TaskDefinition& b, bool lax) {
  if (a.task_group_id != b.task_group_id) return "taskGroupId";
  if (a.dependencies != b.dependencies) return "dependencies";
  if (lax) return a.payload != b.payload ? "payload" : "";  // the lax-conflicts bug
  if (a.requires_ != b.requires_) return "requires";
  if (a.retries != b.retries) return "retries";
  if (a.created_ms != b.created_ms) return "created";
  if (a.deadline_ms != b.deadline_ms) return "deadline";
  if (a.expires_ms != b.expires_ms) return "expires";
  if (a.priority != b.priority) return "priority";
  if (a.routes != b.routes) return "routes";
  if (a.payload != b.payload) return "payload";
  if (a.metadata != b.metadata) return "metadata";
  return "";
}
}  // namespace

Status QueueImpl::CreateLocked(std::shared_ptr<TaskDefinition> def, bool check_created_window,
                               TaskStatus* status, bool* created, TaskIndex* index) {
  if (created) *created = false;
  if (options_.bugs.random_task_ids) def->task_id = RandomTaskId();
  // Everything but the created window first, so a malformed retry is INVALID_ARGUMENT.
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskDefinition(def.get()));
  return CreateValidLocked(std::move(def), check_created_window, status, created, index);
}

Status QueueImpl::CreateValidLocked(TaskDefinitionPtr def, bool check_created_window,
                                    TaskStatus* status, bool* created, TaskIndex* index) {
  TaskIndex existing;
  if (Find(def->task_id, &existing)) {
    const TaskDefinition& old = *tasks_[existing].def;
    std::string_view diff = FirstDifference(old, *def, options_.bugs.lax_conflicts);
    if (!diff.empty()) {
      return Status::AlreadyExists("taskId: task '" + def->task_id +
                                   "' already exists with a different definition (first "
                                   "difference: " +
                                   std::string(diff) + ")");
    }
    BuildStatus(existing, status);
    if (index) *index = existing;
    return Status::Ok();
  }
  if (check_created_window) ITHAPPENS_RETURN_IF_ERROR(ValidateCreatedWindow(*def, clock_->NowMs()));

  std::vector<TaskIndex> deps;
  deps.reserve(def->dependencies.size());
  for (size_t k = 0; k < def->dependencies.size(); ++k) {
    TaskIndex d;
    if (!Find(def->dependencies[k], &d)) {
      return Status::InvalidArgument("dependencies[" + std::to_string(k) + "]: task '" +
                                     def->dependencies[k] + "' does not exist");
    }
    deps.push_back(d);
  }
  if (tasks_.size() >= UINT32_MAX - 1) return Status::ResourceExhausted("tasks: queue is full");

  const TaskIndex i = static_cast<TaskIndex>(tasks_.size());
  TaskDefinitionPtr ptr = std::move(def);
  TaskEntry& e = tasks_.emplace_back();
  ++state_counts_[static_cast<size_t>(TaskState::kUnscheduled)];
  e.def = ptr;
  e.retries_left = ptr->retries;
  e.deps = std::move(deps);
  by_id_.Insert(ptr->task_id, i);
  AddToGroup(i);
  for (TaskIndex d : e.deps) tasks_[d].dependents.push_back(i);
  deadlines_.push(TimedRef{ptr->deadline_ms, i, 0});
  batch_.tasks.push_back(ptr);
  if (AllDepsSatisfied(e)) AddPendingRun(i, ReasonCreated::kScheduled);
  if (created) *created = true;
  if (index) *index = i;
  BuildStatus(i, status);
  return Status::Ok();
}

// ---------------------------------------------------------------- claims

Status QueueImpl::ClaimLocked(std::string_view group, std::string_view id, int n,
                              std::vector<Claim>* out) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateWorker(group, id));
  if (n < 1 || n > kMaxClaimBatch) {
    return Status::InvalidArgument("tasks: " + std::to_string(n) + " is outside 1.." +
                                   std::to_string(kMaxClaimBatch));
  }
  WorkerPtr worker = InternWorker(group, id);
  const TimeMs now = clock_->NowMs();
  int claimed = 0;
  size_t bytes = 0;
  bool full = false;
  for (int level = 0; level < kPriorityLevels && !full; ++level) {
    auto& heap = pending_[options_.bugs.claim_lowest_first ? kPriorityLevels - 1 - level : level];
    while (claimed < n && !heap.empty()) {
      TimedRef ref = heap.top();
      TaskEntry& e = tasks_[ref.task];
      if (ref.run_id + 1 != e.runs.size() || e.runs.back().state != RunState::kPending) {
        heap.pop();
        continue;
      }
      // The answer is capped before the claim is made: what does not fit stays pending.
      const size_t size = ClaimWireSizeBound(*e.def);
      if (claimed > 0 && bytes + size > options_.response_budget_bytes) {
        full = true;
        break;
      }
      bytes += size;
      heap.pop();
      Run& run = e.runs.back();
      Moved(e.state(), TaskState::kRunning);
      run.state = RunState::kRunning;
      run.worker = worker;
      run.started_ms = now;
      run.taken_until_ms = now + options_.claim_timeout_ms;
      leases_.push(TimedRef{run.taken_until_ms, ref.task, run.run_id});
      WriteRun(ref.task, run.run_id);
      out->push_back(Claim{e.def, run.run_id, run.taken_until_ms});
      ++claimed;
    }
  }
  return Status::Ok();
}

namespace {
bool SameWorker(const Run& run, const RunRef& ref) {
  return run.worker && run.worker->group == ref.worker_group && run.worker->id == ref.worker_id;
}

std::string Describe(const RunRef& ref, const Run& run) {
  std::string s = "run " + std::to_string(ref.run_id) + " of task '" + std::string(ref.task_id) +
                  "' is " + std::string(ToString(run.state));
  if (run.reason_resolved != ReasonResolved::kNone) {
    s += "/" + std::string(ToString(run.reason_resolved));
  }
  if (run.worker) s += " (claimed by " + run.worker->group + "/" + run.worker->id + ")";
  return s;
}
}  // namespace

Status QueueImpl::ReclaimLocked(const RunRef& ref, TimeMs* taken_until) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateWorker(ref.worker_group, ref.worker_id));
  TaskIndex i;
  ITHAPPENS_RETURN_IF_ERROR(FindOrNotFound(ref.task_id, &i));
  TaskEntry& e = tasks_[i];
  if (ref.run_id >= e.runs.size()) {
    return Status::NotFound("runId: run " + std::to_string(ref.run_id) +
                            " does not exist (task has " + std::to_string(e.runs.size()) +
                            " runs)");
  }
  Run& run = e.runs[ref.run_id];
  bool current = ref.run_id + 1 == e.runs.size() && run.state == RunState::kRunning;
  const bool any_worker = options_.bugs.no_fencing || options_.bugs.reclaim_ignores_worker;
  if (!current || (!SameWorker(run, ref) && !any_worker)) {
    return Status::FailedPrecondition("reclaimTask: " + Describe(ref, run) + ", not running for " +
                                      std::string(ref.worker_group) + "/" +
                                      std::string(ref.worker_id));
  }
  if (!options_.bugs.reclaim_keeps_lease)
    run.taken_until_ms = clock_->NowMs() + options_.claim_timeout_ms;
  leases_.push(TimedRef{run.taken_until_ms, i, run.run_id});
  WriteRun(i, run.run_id);
  if (taken_until) *taken_until = run.taken_until_ms;
  return Status::Ok();
}

// ---------------------------------------------------------------- reports

Status QueueImpl::ReportLocked(const RunRef& ref, RunState outcome, ReasonResolved reason,
                               TaskStatus* status) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateWorker(ref.worker_group, ref.worker_id));
  TaskIndex i;
  ITHAPPENS_RETURN_IF_ERROR(FindOrNotFound(ref.task_id, &i));
  TaskEntry& e = tasks_[i];
  if (ref.run_id >= e.runs.size()) {
    return Status::NotFound("runId: run " + std::to_string(ref.run_id) +
                            " does not exist (task has " + std::to_string(e.runs.size()) +
                            " runs)");
  }
  Run& run = e.runs[ref.run_id];
  const bool current = ref.run_id + 1 == e.runs.size();
  if (run.state == RunState::kRunning && current && SameWorker(run, ref)) {
    ResolveRun(i, outcome, reason);
    BuildStatus(i, status);
    return Status::Ok();
  }
  // A repeat of a report that already took effect is answered OK and changes nothing.
  if (run.state == outcome && run.reason_resolved == reason && SameWorker(run, ref) &&
      !options_.bugs.report_not_idempotent) {
    BuildStatus(i, status);
    return Status::Ok();
  }
  if (options_.bugs.no_fencing && run.worker) {
    // The bug: accept the report whatever the run's state or owner.
    if (current && run.state == RunState::kRunning) {
      ResolveRun(i, outcome, reason);
    } else {
      const TaskState before = e.state();
      run.state = outcome;
      Moved(before, e.state());  // (an older run changes nothing here)
      run.reason_resolved = reason;
      run.resolved_ms = clock_->NowMs();
      if (outcome == RunState::kCompleted) e.ever_completed = true;
      WriteRun(i, run.run_id);
      if (outcome == RunState::kCompleted) OnTaskResolved(i);
    }
    BuildStatus(i, status);
    return Status::Ok();
  }
  return Status::FailedPrecondition(
      "report " + std::string(ToString(reason)) + ": " + Describe(ref, run) + "; reporter " +
      std::string(ref.worker_group) + "/" + std::string(ref.worker_id) +
      (current ? "" : " (not the current run)"));
}

// ---------------------------------------------------------------- cancel, rerun

Status QueueImpl::CancelLocked(std::string_view task_id, TaskStatus* status) {
  TaskIndex i;
  ITHAPPENS_RETURN_IF_ERROR(FindOrNotFound(task_id, &i));
  TaskEntry& e = tasks_[i];
  TaskState s = e.state();
  if (s == TaskState::kPending || s == TaskState::kRunning) {
    ResolveRun(i, RunState::kException, ReasonResolved::kCanceled);
  } else if (s == TaskState::kUnscheduled && !options_.bugs.cancel_ignores_unscheduled) {
    AddExceptionRunUnscheduled(i, ReasonResolved::kCanceled);
  }  // resolved: nothing to do (idempotent)
  BuildStatus(i, status);
  return Status::Ok();
}

Status QueueImpl::RerunLocked(std::string_view task_id, TaskStatus* status) {
  TaskIndex i;
  ITHAPPENS_RETURN_IF_ERROR(FindOrNotFound(task_id, &i));
  TaskEntry& e = tasks_[i];
  TaskState s = e.state();
  if (s == TaskState::kUnscheduled && !options_.bugs.rerun_unscheduled) {
    return Status::FailedPrecondition("rerunTask: task '" + std::string(task_id) +
                                      "' is unscheduled; only a resolved task can be rerun");
  }
  if (IsResolved(s)) {
    if (clock_->NowMs() >= e.def->deadline_ms) {
      return Status::FailedPrecondition("rerunTask: task '" + std::string(task_id) +
                                        "' is past its deadline (" +
                                        std::to_string(e.def->deadline_ms) + ")");
    }
    if (e.runs.size() >= static_cast<size_t>(kMaxRunsPerTask)) {
      return Status::ResourceExhausted("runs: task '" + std::string(task_id) + "' has " +
                                       std::to_string(e.runs.size()) + " runs, the limit is " +
                                       std::to_string(kMaxRunsPerTask));
    }
    AddPendingRun(i, ReasonCreated::kRerun);
    // The task is unresolved again: arm its deadline (a restart only arms unresolved tasks).
    deadlines_.push(TimedRef{e.def->deadline_ms, i, 0});
  }  // pending or running: already going to run (idempotent)
  BuildStatus(i, status);
  return Status::Ok();
}

// ---------------------------------------------------------------- hooks, groups

Status QueueImpl::CreateHookLocked(HookDefinition hook) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateHook(hook));
  auto it = hooks_.find(hook.hook_id);
  if (it != hooks_.end()) {
    if (*it->second.def == hook) return Status::Ok();
    return Status::AlreadyExists("hookId: hook '" + hook.hook_id +
                                 "' already exists with a different definition");
  }
  auto schedule = CronSchedule::Parse(hook.schedule);
  auto def = std::make_shared<const HookDefinition>(std::move(hook));
  HookState& h = hooks_[def->hook_id];
  hooks_due_known_ = false;
  h.def = def;
  h.schedule = schedule.value();
  h.last_fire_ms = clock_->NowMs();  // fires at schedule times after creation only
  batch_.hooks.push_back(HookRecord{def, h.last_fire_ms});
  return Status::Ok();
}

Status QueueImpl::RemoveHookLocked(std::string_view hook_id) {
  auto it = hooks_.find(hook_id);
  if (it == hooks_.end()) {
    return Status::NotFound("hookId: hook '" + std::string(hook_id) + "' does not exist");
  }
  // A removal is recorded as the definition with last_fire_ms = -1.
  batch_.hooks.push_back(HookRecord{it->second.def, -1});
  hooks_.erase(it);
  hooks_due_known_ = false;
  return Status::Ok();
}

Status QueueImpl::ListGroupLocked(std::string_view group, std::string_view continuation, int limit,
                                  ListGroupPage* page) {
  if (limit < 1 || limit > kMaxListLimit) {
    return Status::InvalidArgument("limit: " + std::to_string(limit) + " is outside 1.." +
                                   std::to_string(kMaxListLimit));
  }
  page->tasks.clear();
  page->continuation.clear();
  uint32_t g = group_index_.Find(group, [this](uint32_t k) -> std::string_view {
    return tasks_[groups_[k].first].def->task_group_id;
  });
  if (g == TaskIdIndex::kNone) {
    ITHAPPENS_RETURN_IF_ERROR(ValidateTaskId(group, "taskGroupId"));
    return Status::NotFound("taskGroupId: group '" + std::string(group) + "' has no tasks");
  }
  // The continuation token is the queue position of the next member to list.
  TaskIndex next = groups_[g].first;
  if (!continuation.empty()) {
    auto r = std::from_chars(continuation.data(), continuation.data() + continuation.size(), next);
    if (r.ec != std::errc() || r.ptr != continuation.data() + continuation.size() ||
        next >= tasks_.size() || tasks_[next].def->task_group_id != group) {
      return Status::InvalidArgument("continuationToken: '" + std::string(continuation) +
                                     "' was not issued for this group");
    }
  }
  size_t bytes = 0;
  while (next != UINT32_MAX && page->tasks.size() < static_cast<size_t>(limit)) {
    TaskStatus status;
    BuildStatus(next, &status);
    const size_t size = StatusWireSizeBound(status);
    if (!page->tasks.empty() && bytes + size > options_.response_budget_bytes) break;
    bytes += size;
    page->tasks.push_back(std::move(status));
    next = tasks_[next].next_in_group;
  }
  if (next != UINT32_MAX) page->continuation = std::to_string(next);
  return Status::Ok();
}

// ---------------------------------------------------------------- public face

Queue::Queue(std::unique_ptr<QueueImpl> impl) : impl_(std::move(impl)) {}
Queue::~Queue() = default;

Result<std::unique_ptr<Queue>> Queue::Open(Store* store, const Clock* clock, QueueOptions options) {
  if (options.claim_timeout_ms <= 0) {
    return Status::InvalidArgument("claimTimeout: must be positive, got " +
                                   std::to_string(options.claim_timeout_ms) + " ms");
  }
  auto impl = std::make_unique<QueueImpl>(store, clock, options);
  {
    std::lock_guard<std::mutex> lock(impl->mu_);
    Status st = impl->ReloadLocked();
    if (!st.ok()) return st.WithContext("open queue on " + std::string(store->Name()));
  }
  return std::unique_ptr<Queue>(new Queue(std::move(impl)));
}

const QueueOptions& Queue::options() const { return impl_->options_; }

Status Queue::CreateTask(TaskDefinition def, TaskStatus* status) {
  // Allocated outside the mutex; becomes the task's shared definition if it is new.
  auto ptr = std::make_shared<TaskDefinition>(std::move(def));
  return impl_->Mutate([&] { return impl_->CreateLocked(std::move(ptr), true, status, nullptr); });
}

Status Queue::CreateTask(TaskDefinitionPtr def, TaskStatus* status) {
  if (def == nullptr) return Status::InvalidArgument("task: no definition");
  return impl_->Mutate([&] {
    // The very object the task holds (a caller sending its definition again): equal to
    // itself, nothing to compare. Any other object is compared below.
    TaskIndex i;
    if (!impl_->options_.bugs.random_task_ids && impl_->Find(def->task_id, &i) &&
        impl_->tasks_[i].def == def) {
      impl_->BuildStatus(i, status);
      return Status::Ok();
    }
    const bool copy = impl_->options_.bugs.random_task_ids || !HasDefaults(*def);
    Status st = copy ? impl_->CreateLocked(std::make_shared<TaskDefinition>(*def), true, status,
                                           nullptr, &i)
                     : ValidateTaskDefinitionWithDefaults(*def);
    if (!copy && st.ok()) st = impl_->CreateValidLocked(def, true, status, nullptr, &i);
    return st;
  });
}

namespace {
Status BatchLimit(size_t n, const char* field) {
  if (n <= kMaxBatchItems) return Status::Ok();
  return Status::ResourceExhausted(std::string(field) + ": " + std::to_string(n) +
                                   " items exceed the limit of " + std::to_string(kMaxBatchItems));
}

// After a batch's commit failed, no item of it is acknowledged.
void FailOkItems(const Status& commit, std::vector<Status>* results) {
  if (commit.ok()) return;
  for (Status& r : *results) {
    if (r.ok()) r = commit;
  }
}
}  // namespace

Status Queue::CreateTasks(std::vector<TaskDefinition> defs, std::vector<Status>* results,
                          std::vector<TaskStatus>* statuses) {
  ITHAPPENS_RETURN_IF_ERROR(BatchLimit(defs.size(), "tasks"));
  std::vector<std::shared_ptr<TaskDefinition>> ptrs;
  ptrs.reserve(defs.size());
  for (auto& d : defs) ptrs.push_back(std::make_shared<TaskDefinition>(std::move(d)));
  results->assign(ptrs.size(), Status::Ok());
  if (statuses) statuses->assign(ptrs.size(), TaskStatus{});
  Status commit = impl_->Mutate([&] {
    for (size_t i = 0; i < ptrs.size(); ++i) {
      (*results)[i] = impl_->CreateLocked(std::move(ptrs[i]), true,
                                          statuses ? &(*statuses)[i] : nullptr, nullptr);
    }
    return Status::Ok();
  });
  FailOkItems(commit, results);
  return commit;
}

Status Queue::ReportCompletedBatch(const std::vector<RunRef>& runs, std::vector<Status>* results) {
  ITHAPPENS_RETURN_IF_ERROR(BatchLimit(runs.size(), "runs"));
  results->assign(runs.size(), Status::Ok());
  Status commit = impl_->Mutate([&] {
    for (size_t i = 0; i < runs.size(); ++i) {
      (*results)[i] =
          impl_->ReportLocked(runs[i], RunState::kCompleted, ReasonResolved::kCompleted, nullptr);
    }
    return Status::Ok();
  });
  FailOkItems(commit, results);
  return commit;
}

Status Queue::GetStatus(std::string_view task_id, TaskStatus* status) {
  return impl_->Mutate([&] {
    TaskIndex i;
    ITHAPPENS_RETURN_IF_ERROR(impl_->FindOrNotFound(task_id, &i));
    impl_->BuildStatus(i, status);
    return Status::Ok();
  });
}

Result<TaskDefinitionPtr> Queue::GetTask(std::string_view task_id) {
  TaskDefinitionPtr def;
  Status st = impl_->Mutate([&] {
    TaskIndex i;
    ITHAPPENS_RETURN_IF_ERROR(impl_->FindOrNotFound(task_id, &i));
    def = impl_->tasks_[i].def;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return def;
}

Result<ListGroupPage> Queue::ListTaskGroup(std::string_view group, std::string_view continuation,
                                           int limit) {
  ListGroupPage page;
  Status st =
      impl_->Mutate([&] { return impl_->ListGroupLocked(group, continuation, limit, &page); });
  if (!st.ok()) return st;
  return page;
}

Status Queue::ClaimWork(std::string_view worker_group, std::string_view worker_id, int n,
                        std::vector<Claim>* claims) {
  size_t before = claims->size();
  Status st = impl_->Mutate([&] { return impl_->ClaimLocked(worker_group, worker_id, n, claims); });
  if (!st.ok()) claims->resize(before);  // nothing is handed out unless it is durable
  return st;
}

Status Queue::ReclaimTask(const RunRef& run, TimeMs* taken_until_ms) {
  return impl_->Mutate([&] { return impl_->ReclaimLocked(run, taken_until_ms); });
}

Status Queue::ReportCompleted(const RunRef& run, TaskStatus* status) {
  return impl_->Mutate([&] {
    return impl_->ReportLocked(run, RunState::kCompleted, ReasonResolved::kCompleted, status);
  });
}

Status Queue::ReportFailed(const RunRef& run, TaskStatus* status) {
  return impl_->Mutate(
      [&] { return impl_->ReportLocked(run, RunState::kFailed, ReasonResolved::kFailed, status); });
}

Status Queue::ReportException(const RunRef& run, ReasonResolved reason, TaskStatus* status) {
  if (!IsWorkerExceptionReason(reason)) {
    return Status::InvalidArgument(
        "reason: '" + std::string(ToString(reason)) +
        "' is not a worker exception reason (worker-shutdown, malformed-payload, "
        "resource-unavailable, internal-error, intermittent-task)");
  }
  return impl_->Mutate(
      [&] { return impl_->ReportLocked(run, RunState::kException, reason, status); });
}

Status Queue::CancelTask(std::string_view task_id, TaskStatus* status) {
  return impl_->Mutate([&] { return impl_->CancelLocked(task_id, status); });
}

Status Queue::RerunTask(std::string_view task_id, TaskStatus* status) {
  return impl_->Mutate([&] { return impl_->RerunLocked(task_id, status); });
}

Status Queue::CreateHook(HookDefinition hook) {
  return impl_->Mutate([&] { return impl_->CreateHookLocked(std::move(hook)); });
}

Status Queue::RemoveHook(std::string_view hook_id) {
  return impl_->Mutate([&] { return impl_->RemoveHookLocked(hook_id); });
}

Result<TickCounts> Queue::Tick() {
  TickCounts counts;
  Status st = impl_->Mutate(
      [&] {
        counts.hook_tasks_created = impl_->FireHooksLocked();
        return Status::Ok();
      },
      &counts);
  if (!st.ok()) return st;
  if (impl_->options_.bugs.ack_before_commit) {
    // The bug's flush: what was acknowledged earlier becomes durable only now.
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(impl_->mu_);
      seq = impl_->last_seq_;
    }
    if (seq != 0) {
      Status d = impl_->store_->WaitDurable(seq);
      if (!d.ok()) {
        std::lock_guard<std::mutex> lock(impl_->mu_);
        impl_->needs_recovery_ = true;
        return Status::Unavailable(d.WithContext("flush").message());
      }
    }
  }
  return counts;
}

bool Queue::NeedsRecovery() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->needs_recovery_;
}

std::vector<int64_t> Queue::CountByState() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return std::vector<int64_t>(impl_->state_counts_.begin(), impl_->state_counts_.end());
}

}  // namespace ithappens::engine
