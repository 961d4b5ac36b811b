// The storage seam. The queue keeps its working state in memory and writes every change to
// a Store as a WriteBatch of full-snapshot records; replaying the records in commit order
// rebuilds the state (that is what Load does on open and after a crash).
//
// Durability contract:
//  * Submit() appends a batch to the commit pipeline and returns its sequence number. It
//    never blocks on I/O. Callers serialize Submit() in the order their changes were made
//    (the Queue calls it under its own mutex), so the pipeline order is the change order.
//  * WaitDurable(seq) returns OK only once every batch up to and including seq is durable
//    (written and fsynced). A store may write many waiting batches in one transaction with
//    one fsync (group commit).
//  * A failed write or fsync fails its batch and every batch submitted after it, with
//    UNAVAILABLE, until Recover(): a later batch may depend on an earlier failed one, so
//    nothing after a failure is made durable. Nothing of a failed batch is acknowledged.
//  * After an fsync failure the store refuses all writes until Recover() reopens it from
//    the files (the crash-recovery path). It never retries an fsync: after a failed fsync
//    the kernel may have dropped the dirty pages, and a retry could falsely succeed.
//  * Each batch is atomic: after any crash, a batch is either wholly present or absent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/task.h"

namespace ithappens::engine {

// The state of one run of one task, and the task's retriesLeft after the change.
// task_index is the task's position in creation order — the order Load visits tasks in —
// so a store may find the task without hashing its id (MemoryStore does, and checks it).
struct RunRecord {
  TaskDefinitionPtr task;
  uint32_t task_index = 0;
  int retries_left = 0;
  Run run;
};

struct HookRecord {
  std::shared_ptr<const HookDefinition> hook;
  TimeMs last_fire_ms = 0;  // fire time already turned into a task; 0 = never fired
};

struct WriteBatch {
  std::vector<TaskDefinitionPtr> tasks;  // newly created tasks, in creation order
  std::vector<RunRecord> runs;           // run snapshots, in change order
  std::vector<HookRecord> hooks;         // hook snapshots
  bool empty() const { return tasks.empty() && runs.empty() && hooks.empty(); }
  void Clear() {
    tasks.clear();
    runs.clear();
    hooks.clear();
  }
};

// Receives the durable state from Store::Load: every task in creation order, then every
// run of every task in (task creation order, run id) order, then every hook.
class StoreVisitor {
 public:
  virtual ~StoreVisitor() = default;
  virtual Status OnTask(TaskDefinitionPtr task) = 0;
  virtual Status OnRun(std::string_view task_id, int retries_left, const Run& run) = 0;
  virtual Status OnHook(std::shared_ptr<const HookDefinition> hook, TimeMs last_fire_ms) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Replays the durable state into v. Thread-compatible: no Submit may run concurrently.
  virtual Status Load(StoreVisitor& v) = 0;
  // Moves the batch's records into the pipeline (batch is left empty). Thread-safe.
  virtual uint64_t Submit(WriteBatch& batch) = 0;
  // Blocks until seq is durable or failed. Thread-safe; concurrent waiters share commits.
  virtual Status WaitDurable(uint64_t seq) = 0;
  // Clears a failed pipeline so new batches can commit; after an fsync failure, reopens the
  // store from its files first. Afterwards everything Load returns is durable. The caller
  // must Load again.
  virtual Status Recover() = 0;
  virtual std::string_view Name() const = 0;
};

}  // namespace ithappens::engine
