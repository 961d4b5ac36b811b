// MemoryStore: the simulator's disk. It models the page cache and the platter: Submit
// "writes" a batch (it becomes visible to Load, as a re-read through the page cache would
// see it), WaitDurable "fsyncs" it. Crash() is a power cut: whatever was written but not
// fsynced is gone.
//
// Layout: a durable image updated in place — one slot per task (definition, retriesLeft,
// runs), found by RunRecord::task_index — plus an undo log of the unsynced writes, which
// Crash() and an fsync failure replay backwards. Memory is O(tasks + runs), whatever the
// number of writes.
//
// Faults: the libfiu points engine/store/write (checked per batch written) and
// engine/store/fsync (checked per sync), once InitFaultPoints() was called. After an fsync
// failure the store refuses writes until Recover(), which drops every unsynced write (the
// kernel may have dropped those pages: PostgreSQL's fsyncgate).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/store.h"

namespace ithappens::engine {

class MemoryStore final : public Store {
 public:
  MemoryStore() = default;

  Status Load(StoreVisitor& v) override;
  uint64_t Submit(WriteBatch& batch) override;
  Status WaitDurable(uint64_t seq) override;
  Status Recover() override;
  std::string_view Name() const override { return "memory"; }

  // Room for n tasks (a capacity hint; see QueueOptions::expected_tasks).
  void Reserve(size_t n) { tasks_.reserve(n); }

  // Power cut: drops unsynced writes and the failed/poisoned state. The queue on top must
  // be discarded and a new one opened on this store.
  void Crash();
  // The fsync-off bug switch: WaitDurable and Recover never sync; what was written stays
  // volatile until a Crash() drops it.
  void SetSyncOff(bool off) {
    std::lock_guard<std::mutex> lock(mu_);
    sync_off_ = off;
  }

  struct Counters {
    uint64_t batches_written = 0;
    uint64_t syncs = 0;
    uint64_t write_faults = 0;
    uint64_t fsync_faults = 0;
    uint64_t writes_dropped_by_crash = 0;
  };
  Counters counters() const;

 private:
  struct TaskSlot {
    TaskDefinitionPtr task;
    int retries_left = 0;
    std::vector<Run> runs;
  };
  struct HookSlot {
    std::shared_ptr<const HookDefinition> hook;
    TimeMs last_fire_ms = 0;  // -1: removed
  };
  // One unsynced write and what it overwrote (hook writes, being rare, keep their own log).
  struct Undo {
    enum class Kind : uint8_t { kTaskAppended, kRunAppended, kRunOverwritten, kHook };
    Kind kind = Kind::kTaskAppended;
    uint32_t task_index = 0;  // kHook: index into hook_undo_
    int old_retries_left = 0;
    Run old_run;
  };
  struct HookUndo {
    std::string hook_id;
    bool existed = false;
    HookSlot old;
  };
  bool IsFailedLocked(uint64_t seq) const;
  void ApplyLocked(WriteBatch& batch);
  void SyncLocked();
  void RollBackUnsyncedLocked();

  mutable std::mutex mu_;
  std::vector<TaskSlot> tasks_;
  std::map<std::string, HookSlot> hooks_;
  std::vector<Undo> undo_;  // unsynced writes, oldest first
  std::vector<HookUndo> hook_undo_;
  uint64_t submitted_seq_ = 0;
  uint64_t written_seq_ = 0;  // last batch written (visible)
  uint64_t durable_seq_ = 0;  // last batch fsynced
  uint64_t failed_from_ = 0;  // 0 = pipeline healthy
  bool poisoned_ = false;     // an fsync failed: no writes until Recover
  bool sync_off_ = false;     // the fsync-off bug switch
  std::vector<std::pair<uint64_t, uint64_t>> failed_ranges_;
  Counters counters_;
};

}  // namespace ithappens::engine
