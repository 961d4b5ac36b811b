#include "engine/memory_store.h"

#include <algorithm>

#include "engine/fault_points.h"

namespace ithappens::engine {

bool MemoryStore::IsFailedLocked(uint64_t seq) const {
  if (failed_from_ != 0 && seq >= failed_from_) return true;
  for (const auto& [a, b] : failed_ranges_) {
    if (seq >= a && seq <= b) return true;
  }
  return false;
}

void MemoryStore::ApplyLocked(WriteBatch& batch) {
  for (auto& t : batch.tasks) {
    undo_.emplace_back().kind = Undo::Kind::kTaskAppended;
    tasks_.push_back(TaskSlot{std::move(t), 0, {}});
    tasks_.back().retries_left = tasks_.back().task->retries;
  }
  for (auto& r : batch.runs) {
    // The queue's task index is the store's creation order: a mismatch is our bug.
    ITHAPPENS_CHECK(r.task_index < tasks_.size() && tasks_[r.task_index].task == r.task);
    TaskSlot& slot = tasks_[r.task_index];
    const uint32_t run_id = r.run.run_id;
    ITHAPPENS_CHECK(run_id <= slot.runs.size());
    Undo u;
    u.kind = run_id == slot.runs.size() ? Undo::Kind::kRunAppended : Undo::Kind::kRunOverwritten;
    u.task_index = r.task_index;
    u.old_retries_left = slot.retries_left;
    if (run_id == slot.runs.size()) {
      slot.runs.push_back(std::move(r.run));
    } else {
      u.old_run = std::move(slot.runs[run_id]);
      slot.runs[run_id] = std::move(r.run);
    }
    slot.retries_left = r.retries_left;
    undo_.push_back(std::move(u));
  }
  for (auto& h : batch.hooks) {
    HookUndo hu{h.hook->hook_id, false, {}};
    auto it = hooks_.find(hu.hook_id);
    if (it != hooks_.end()) {
      hu.existed = true;
      hu.old = it->second;
    }
    hooks_[hu.hook_id] = HookSlot{std::move(h.hook), h.last_fire_ms};
    Undo& u = undo_.emplace_back();
    u.kind = Undo::Kind::kHook;
    u.task_index = static_cast<uint32_t>(hook_undo_.size());
    hook_undo_.push_back(std::move(hu));
  }
}

void MemoryStore::RollBackUnsyncedLocked() {
  counters_.writes_dropped_by_crash += undo_.size();
  for (auto u = undo_.rbegin(); u != undo_.rend(); ++u) {
    switch (u->kind) {
      case Undo::Kind::kTaskAppended:
        tasks_.pop_back();
        break;
      case Undo::Kind::kRunAppended:
        tasks_[u->task_index].runs.pop_back();
        tasks_[u->task_index].retries_left = u->old_retries_left;
        break;
      case Undo::Kind::kRunOverwritten: {
        TaskSlot& slot = tasks_[u->task_index];
        slot.runs[u->old_run.run_id] = std::move(u->old_run);
        slot.retries_left = u->old_retries_left;
        break;
      }
      case Undo::Kind::kHook: {
        HookUndo& hu = hook_undo_[u->task_index];
        if (hu.existed) {
          hooks_[hu.hook_id] = std::move(hu.old);
        } else {
          hooks_.erase(hu.hook_id);
        }
        break;
      }
    }
  }
  undo_.clear();
  hook_undo_.clear();
}

void MemoryStore::SyncLocked() {
  counters_.syncs++;
  undo_.clear();
  hook_undo_.clear();
  durable_seq_ = written_seq_;
}

uint64_t MemoryStore::Submit(WriteBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t seq = ++submitted_seq_;
  if (failed_from_ == 0 && FaultPointFires(kFaultStoreWrite)) {
    counters_.write_faults++;
    failed_from_ = seq;
  }
  if (failed_from_ == 0) {
    ApplyLocked(batch);
    written_seq_ = seq;
    counters_.batches_written++;
  }
  batch.Clear();
  return seq;
}

Status MemoryStore::WaitDurable(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsFailedLocked(seq)) {
    return Status::Unavailable(poisoned_
                                   ? "memory store: fsync failed; writes refused until recovery"
                                   : "memory store: write failed");
  }
  if (seq <= durable_seq_ || sync_off_) return Status::Ok();
  if (FaultPointFires(kFaultStoreFsync)) {
    counters_.fsync_faults++;
    poisoned_ = true;
    failed_from_ = failed_from_ == 0 ? durable_seq_ + 1 : std::min(failed_from_, durable_seq_ + 1);
    return Status::Unavailable("memory store: fsync failed (engine/store/fsync)");
  }
  SyncLocked();
  return Status::Ok();
}

Status MemoryStore::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  // Make everything a reader can see durable (or, if that fsync fails, gone), so the queue
  // reloads only durable state.
  if (!poisoned_ && !undo_.empty() && !sync_off_) {
    if (FaultPointFires(kFaultStoreFsync)) {
      counters_.fsync_faults++;
      poisoned_ = true;
    } else {
      SyncLocked();
    }
  }
  if (poisoned_) {
    // fsyncgate: after a failed fsync the unsynced pages may be gone. Assume they are.
    RollBackUnsyncedLocked();
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
  RollBackUnsyncedLocked();
  // Everything submitted and not durable is lost; its waiters see a failure.
  if (submitted_seq_ > durable_seq_) failed_ranges_.emplace_back(durable_seq_ + 1, submitted_seq_);
  written_seq_ = durable_seq_ = submitted_seq_;
  failed_from_ = 0;
  poisoned_ = false;
}

Status MemoryStore::Load(StoreVisitor& v) {
  std::lock_guard<std::mutex> lock(mu_);
  // Written records are visible to a reader, synced or not (the page cache serves them).
  for (const auto& t : tasks_) ITHAPPENS_RETURN_IF_ERROR(v.OnTask(t.task));
  for (const auto& t : tasks_) {
    for (const Run& r : t.runs)
      ITHAPPENS_RETURN_IF_ERROR(v.OnRun(t.task->task_id, t.retries_left, r));
  }
  for (const auto& [id, h] : hooks_) {
    if (h.last_fire_ms >= 0) ITHAPPENS_RETURN_IF_ERROR(v.OnHook(h.hook, h.last_fire_ms));
  }
  return Status::Ok();
}

MemoryStore::Counters MemoryStore::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace ithappens::engine
