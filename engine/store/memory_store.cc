#include "engine/memory_store.h"

#include <fiu-local.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "engine/fault_points.h"

namespace ithappens::engine {
namespace {

// The final snapshot of every run, per task in creation order: replays `runs` over `tasks`.
std::vector<std::vector<const RunRecord*>> FinalRuns(const std::vector<TaskDefinitionPtr>& tasks,
                                                     const std::vector<RunRecord>& runs,
                                                     size_t runs_end) {
  std::unordered_map<const TaskDefinition*, size_t> ordinal;
  ordinal.reserve(tasks.size());
  for (size_t k = 0; k < tasks.size(); ++k) ordinal.emplace(tasks[k].get(), k);
  std::vector<std::vector<const RunRecord*>> per_task(tasks.size());
  for (size_t k = 0; k < runs_end; ++k) {
    auto it = ordinal.find(runs[k].task.get());
    if (it == ordinal.end()) continue;  // cannot happen: a run is written with or after its task
    auto& slots = per_task[it->second];
    if (slots.size() <= runs[k].run.run_id) slots.resize(runs[k].run.run_id + 1, nullptr);
    slots[runs[k].run.run_id] = &runs[k];
  }
  return per_task;
}

}  // namespace

bool MemoryStore::IsFailedLocked(uint64_t seq) const {
  if (failed_from_ != 0 && seq >= failed_from_) return true;
  for (const auto& [a, b] : failed_ranges_) {
    if (seq >= a && seq <= b) return true;
  }
  return false;
}

uint64_t MemoryStore::Submit(WriteBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t seq = ++submitted_seq_;
  if (failed_from_ == 0 && fiu_fail(kFaultStoreWrite)) {
    counters_.write_faults++;
    failed_from_ = seq;
  }
  if (failed_from_ == 0) {
    for (auto& t : batch.tasks) tasks_.push_back(std::move(t));
    for (auto& r : batch.runs) runs_.push_back(std::move(r));
    for (auto& h : batch.hooks) hooks_.push_back(HookLog{std::move(h.hook), h.last_fire_ms});
    written_seq_ = seq;
    counters_.batches_written++;
  }
  batch.Clear();
  return seq;
}

Status MemoryStore::WaitDurable(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsFailedLocked(seq)) {
    return Status::Unavailable(poisoned_ ? "memory store: fsync failed; writes refused until recovery"
                                         : "memory store: write failed");
  }
  if (seq <= durable_seq_) return Status::Ok();
  if (fiu_fail(kFaultStoreFsync)) {
    counters_.fsync_faults++;
    poisoned_ = true;
    failed_from_ = failed_from_ == 0 ? durable_seq_ + 1 : std::min(failed_from_, durable_seq_ + 1);
    return Status::Unavailable("memory store: fsync failed (engine/store/fsync)");
  }
  counters_.syncs++;
  durable_ = Marks{tasks_.size(), runs_.size(), hooks_.size()};
  durable_seq_ = written_seq_;
  MaybeCompactLocked();
  return Status::Ok();
}

Status MemoryStore::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  // Make everything a reader can see durable (or, if that fsync fails, gone), so the queue
  // reloads only durable state.
  if (!poisoned_ && written_seq_ > durable_seq_) {
    if (fiu_fail(kFaultStoreFsync)) {
      counters_.fsync_faults++;
      poisoned_ = true;
    } else {
      counters_.syncs++;
      durable_ = Marks{tasks_.size(), runs_.size(), hooks_.size()};
      durable_seq_ = written_seq_;
    }
  }
  if (poisoned_) {
    // fsyncgate: after a failed fsync the unsynced pages may be gone. Assume they are.
    TruncateToLocked(durable_);
    written_seq_ = durable_seq_;
    poisoned_ = false;
  }
  if (failed_from_ != 0) {
    failed_ranges_.emplace_back(failed_from_, submitted_seq_);
    failed_from_ = 0;
  }
  return Status::Ok();
}

void MemoryStore::Crash() {
  std::lock_guard<std::mutex> lock(mu_);
  counters_.records_dropped_by_crash +=
      (tasks_.size() - durable_.tasks) + (runs_.size() - durable_.runs) + (hooks_.size() - durable_.hooks);
  TruncateToLocked(durable_);
  // Everything submitted and not durable is lost; its waiters (there are none after a
  // crash in the simulator, but be exact) see a failure.
  if (submitted_seq_ > durable_seq_) failed_ranges_.emplace_back(durable_seq_ + 1, submitted_seq_);
  written_seq_ = durable_seq_ = submitted_seq_;
  failed_from_ = 0;
  poisoned_ = false;
}

void MemoryStore::TruncateToLocked(const Marks& m) {
  tasks_.resize(m.tasks);
  runs_.resize(m.runs);
  hooks_.resize(m.hooks);
}

void MemoryStore::MaybeCompactLocked() {
  // Only the durable prefix is compacted, and only once it holds many superseded records.
  if (durable_.runs < 8 * durable_.tasks + 65'536) return;
  std::vector<TaskDefinitionPtr> durable_tasks(tasks_.begin(), tasks_.begin() + durable_.tasks);
  auto per_task = FinalRuns(durable_tasks, runs_, durable_.runs);
  std::vector<RunRecord> compacted;
  for (auto& slots : per_task) {
    for (const RunRecord* r : slots) {
      if (r) compacted.push_back(*r);
    }
  }
  size_t new_durable = compacted.size();
  for (size_t k = durable_.runs; k < runs_.size(); ++k) compacted.push_back(std::move(runs_[k]));
  runs_ = std::move(compacted);
  durable_.runs = new_durable;
}

Status MemoryStore::Load(StoreVisitor& v) {
  std::lock_guard<std::mutex> lock(mu_);
  // Written records are visible to a reader, synced or not (the page cache serves them).
  auto per_task = FinalRuns(tasks_, runs_, runs_.size());
  for (const auto& t : tasks_) ITHAPPENS_RETURN_IF_ERROR(v.OnTask(t));
  for (size_t k = 0; k < tasks_.size(); ++k) {
    for (const RunRecord* r : per_task[k]) {
      if (r == nullptr) {
        return Status::Internal("memory store: task '" + tasks_[k]->task_id + "' has a gap in its runs");
      }
      ITHAPPENS_RETURN_IF_ERROR(v.OnRun(tasks_[k]->task_id, r->retries_left, r->run));
    }
  }
  std::map<std::string, const HookLog*> final_hooks;
  for (const auto& h : hooks_) final_hooks[h.hook->hook_id] = &h;
  for (const auto& [id, h] : final_hooks) {
    if (h->last_fire_ms >= 0) ITHAPPENS_RETURN_IF_ERROR(v.OnHook(h->hook, h->last_fire_ms));
  }
  return Status::Ok();
}

MemoryStore::Counters MemoryStore::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace ithappens::engine
