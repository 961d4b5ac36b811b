// Rebuilding the queue's memory from the store: at open, and after a failed commit.
#include <algorithm>

#include "engine/core/queue_impl.h"

namespace ithappens::engine {
namespace {

class Loader final : public StoreVisitor {
 public:
  explicit Loader(QueueImpl* q) : q_(q) {}

  Status OnTask(TaskDefinitionPtr task) override {
    const TaskIndex i = static_cast<TaskIndex>(q_->tasks_.size());
    TaskEntry& e = q_->tasks_.emplace_back();
    e.def = task;
    e.retries_left = task->retries;
    for (size_t k = 0; k < task->dependencies.size(); ++k) {
      TaskIndex d;
      if (!q_->Find(task->dependencies[k], &d)) {
        return Status::Internal("store: task '" + task->task_id + "' depends on '" +
                                task->dependencies[k] + "', which was not loaded before it");
      }
      e.deps.push_back(d);
      q_->tasks_[d].dependents.push_back(i);
    }
    if (q_->Find(e.def->task_id) != nullptr) {
      return Status::Internal("store: task '" + task->task_id + "' loaded twice");
    }
    q_->by_id_.Insert(e.def->task_id, i);
    q_->AddToGroup(i);
    return Status::Ok();
  }

  Status OnRun(std::string_view task_id, int retries_left, const Run& run) override {
    TaskIndex i;
    TaskEntry* e = q_->Find(task_id, &i);
    if (e == nullptr) {
      return Status::Internal("store: run " + std::to_string(run.run_id) + " of unknown task '" +
                              std::string(task_id) + "'");
    }
    if (run.run_id != e->runs.size()) {
      return Status::Internal("store: task '" + std::string(task_id) + "' run " +
                              std::to_string(run.run_id) + " loaded out of order");
    }
    e->runs.push_back(run);
    if (run.worker) e->runs.back().worker = q_->InternWorker(run.worker->group, run.worker->id);
    e->retries_left = q_->options_.bugs.retries_reset_on_restart ? e->def->retries : retries_left;
    return Status::Ok();
  }

  Status OnHook(std::shared_ptr<const HookDefinition> hook, TimeMs last_fire_ms) override {
    auto schedule = CronSchedule::Parse(hook->schedule);
    if (!schedule.ok()) return schedule.status().WithContext("store: hook '" + hook->hook_id + "'");
    HookState& h = q_->hooks_[hook->hook_id];
    h.def = std::move(hook);
    h.schedule = schedule.value();
    h.last_fire_ms = last_fire_ms;
    return Status::Ok();
  }

 private:
  QueueImpl* q_;
};

// Whether the task was resolved at some point: a resolved run that was not followed by an
// automatic retry (a rerun after a resolution does not undo it).
bool EverResolved(const std::vector<Run>& runs) {
  for (size_t k = 0; k < runs.size(); ++k) {
    if (!IsResolved(runs[k].state)) continue;
    if (k + 1 == runs.size() || runs[k + 1].reason_created == ReasonCreated::kRerun) return true;
  }
  return false;
}

}  // namespace

Status QueueImpl::ReloadLocked() {
  tasks_.clear();
  by_id_.Clear();
  tasks_.reserve(options_.expected_tasks);
  by_id_.Reserve(options_.expected_tasks);
  groups_.clear();
  group_index_.Clear();
  for (auto& heap : pending_) heap = MinHeap();
  leases_ = MinHeap();
  deadlines_ = MinHeap();
  hooks_.clear();
  hooks_due_known_ = false;
  batch_.Clear();

  Loader loader(this);
  ITHAPPENS_RETURN_IF_ERROR(store_->Load(loader));

  // The lose-pending-on-restart bug: drop every pending run, so the task is never claimed.
  if (options_.bugs.lose_pending_on_restart) {
    for (auto& e : tasks_) {
      if (!e.runs.empty() && e.runs.back().state == RunState::kPending) e.runs.pop_back();
    }
  }

  // Derived state: satisfaction flags, pending work, leases, deadlines.
  for (TaskIndex i = 0; i < tasks_.size(); ++i) {
    TaskEntry& e = tasks_[i];
    e.ever_completed = std::any_of(e.runs.begin(), e.runs.end(),
                                   [](const Run& r) { return r.state == RunState::kCompleted; });
    e.ever_resolved = EverResolved(e.runs);
    TaskState s = e.state();
    if (!IsResolved(s)) deadlines_.push(TimedRef{e.def->deadline_ms, i, 0});
    if (s == TaskState::kPending) {
      pending_[static_cast<int>(e.def->priority)].push(
          TimedRef{e.runs.back().scheduled_ms, i, e.runs.back().run_id});
    }
    if (s == TaskState::kRunning) {
      leases_.push(TimedRef{e.runs.back().taken_until_ms, i, e.runs.back().run_id});
    }
  }
  Recount();
  return Status::Ok();
}

}  // namespace ithappens::engine
