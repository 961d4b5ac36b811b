// The workload of a scenario, planned ahead: every task with its ground truth (what a
// correct platform must make of it), and the submissions that create them over time.
// A pure function of the scenario and the load multiplier; nothing here touches a
// platform, so sim and real mode share it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/task.h"
#include "harness/parts.h"
#include "harness/scenario/scenario.h"

namespace ithappens::harness {

struct PlannedTask {
  engine::TaskDefinition def;  // created/deadline are stamped when it is submitted
  int client = 0;              // which client submits it
  std::string expect;          // completed | failed | exception | blocked
  std::string root;            // blocked: the root cause
  nlohmann::json effects = nlohmann::json::array();  // [{step, channel, to}] it may deliver
  int64_t deadline_after_ms = 0;                     // deadline = created + this
  int64_t created_at_ms = -1;  // fixed created time (cron filler), or -1: at submission
  // The `plan` event's value.
  nlohmann::json PlanValue() const;
};

struct Workload {
  std::vector<PlannedTask> tasks;
  std::vector<Submission> submissions;  // in planning order
  int64_t last_ms = 0;                  // the last submission time of any workload
};

// Plans scenario.workload scaled by load (task counts, chains and arrival rates grow).
Workload PlanWorkload(const Scenario& scenario, double load);

// The submissions of a planned workload, one by one.
class WorkloadGenerator final : public Generator {
 public:
  explicit WorkloadGenerator(const Workload& w) : w_(w) {}
  std::optional<Submission> Next() override {
    if (next_ == w_.submissions.size()) return std::nullopt;
    return w_.submissions[next_++];
  }

 private:
  const Workload& w_;
  size_t next_ = 0;
};

}  // namespace ithappens::harness
