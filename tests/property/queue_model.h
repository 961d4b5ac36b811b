// A deliberately naive reference model of the queue's semantics for property tests:
// plain vectors and linear scans, dependency satisfaction recomputed from scratch after
// every change. It shares no code with the engine's indexes, so agreement means something.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {

inline constexpr TimeMs kModelLeaseMs = 60'000;

struct MRun {
  RunState state = RunState::kPending;
  ReasonCreated created = ReasonCreated::kScheduled;
  ReasonResolved resolved = ReasonResolved::kNone;
  int worker = -1;
  TimeMs taken_until = 0;
  TimeMs scheduled = 0;
};

struct MTask {
  std::vector<int> deps;
  Requires requires_ = Requires::kAllCompleted;
  int retries = 0;
  int retries_left = 0;
  int priority = 6;
  TimeMs created = 0;
  TimeMs deadline = 0;
  std::vector<MRun> runs;
  bool ever_resolved = false;
  bool ever_completed = false;
  TaskState State() const;
  TaskDefinition Definition(int n) const;
};

struct Model {
  TimeMs now = kStartMs;
  std::vector<MTask> tasks;

  // Each returns the status code the engine must answer with.
  StatusCode Create(int n, MTask t);
  StatusCode Claim(int worker, int k, std::vector<std::pair<int, int>>* claimed);
  StatusCode Reclaim(int task, int run, int worker);
  StatusCode Report(int task, int run, int worker, RunState outcome, ReasonResolved reason);
  StatusCode Cancel(int task);
  StatusCode Rerun(int task);
  void Advance(TimeMs ms);

  void ProcessDue();
  void Settle();  // ever-flags and scheduling of unblocked tasks
  void Resolve(int task, RunState outcome, ReasonResolved reason);
  void AddRun(int task, ReasonCreated why);
};

std::string WorkerName(int w);
// Compares every task of the model with the engine's status; returns "" or a difference.
std::string Diff(const Model& m, Queue& q);

}  // namespace ithappens::testing
