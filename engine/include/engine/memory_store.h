// MemoryStore: the simulator's disk. It models the page cache and the platter: Submit
// "writes" a batch (it becomes visible to Load, as a re-read through the page cache would
// see it), WaitDurable "fsyncs" it. Crash() is a power cut: whatever was written but not
// fsynced, and whatever was submitted but not written, is gone.
//
// Faults: the libfiu points engine/store/write (checked per batch written) and
// engine/store/fsync (checked per sync). After an fsync failure the store refuses writes
// until Recover(), which drops every unsynced record (the kernel may have dropped those
// pages: PostgreSQL's fsyncgate).
//
// Thread-safe. Memory: O(records) with periodic compaction of the durable prefix.
#pragma once

#include <cstdint>
#include <mutex>
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

  // Power cut: drops unsynced records and the failed/poisoned state. The queue on top
  // must be discarded and a new one opened on this store.
  void Crash();

  struct Counters {
    uint64_t batches_written = 0;
    uint64_t syncs = 0;
    uint64_t write_faults = 0;
    uint64_t fsync_faults = 0;
    uint64_t records_dropped_by_crash = 0;
  };
  Counters counters() const;

 private:
  struct HookLog {
    std::shared_ptr<const HookDefinition> hook;
    TimeMs last_fire_ms;
  };
  // Three logs; a batch appends to each. A watermark per log marks the durable prefix.
  struct Marks {
    size_t tasks = 0, runs = 0, hooks = 0;
  };
  bool IsFailedLocked(uint64_t seq) const;
  void TruncateToLocked(const Marks& m);
  void MaybeCompactLocked();

  mutable std::mutex mu_;
  std::vector<TaskDefinitionPtr> tasks_;
  std::vector<RunRecord> runs_;
  std::vector<HookLog> hooks_;
  Marks durable_;
  uint64_t submitted_seq_ = 0;
  uint64_t written_seq_ = 0;   // last batch written (visible)
  uint64_t durable_seq_ = 0;   // last batch fsynced
  uint64_t failed_from_ = 0;   // 0 = pipeline healthy
  bool poisoned_ = false;      // an fsync failed: no writes until Recover
  std::vector<std::pair<uint64_t, uint64_t>> failed_ranges_;
  Counters counters_;
};

}  // namespace ithappens::engine
