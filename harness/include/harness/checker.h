// Checkers judge a history (Jepsen's `check`): streaming, one pass, memory bounded by the
// number of tasks. Results are three-valued; a checker that throws is `unknown`, never a
// crash, and a composed result is invalid if any part is.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "harness/event.h"

namespace ithappens::harness {

enum class Validity { kValid, kInvalid, kUnknown };
std::string_view ToString(Validity v);

struct Counterexample {
  std::string task;
  std::vector<int64_t> events;  // indices of the events that show it
  std::string explanation;
};

struct CheckResult {
  std::string checker;
  Validity valid = Validity::kValid;
  nlohmann::json counts = nlohmann::json::object();
  std::vector<Counterexample> counterexamples;  // the first kMaxCounterexamples
  std::string error;                            // why unknown
};

inline constexpr size_t kMaxCounterexamples = 10;

class Checker {
 public:
  virtual ~Checker() = default;
  virtual std::string name() const = 0;
  // Called once per event, in history order. The view is valid during the call only.
  virtual void Observe(const EventView& e) = 0;
  virtual CheckResult Finish() = 0;
};

// A checker that sees everything and finds nothing (to assemble a test piece by piece).
class NoopChecker final : public Checker {
 public:
  std::string name() const override { return "noop"; }
  void Observe(const EventView&) override {}
  CheckResult Finish() override {
    CheckResult r;
    r.checker = "noop";
    return r;
  }
};

// The standard set: no-lost, no-duplicate-tasks, no-duplicate-effects, effect-order,
// single-completion, attribution, dependency-order, deadline, liveness, hook-fires,
// task-model.
std::vector<std::unique_ptr<Checker>> StandardCheckers();
// task-model: each task's operations replayed through the queue's rules
// (harness/checkers/task_model.cc lists them).
std::unique_ptr<Checker> MakeTaskModelChecker();

// Runs checkers over a history file in one streaming pass. A checker that throws becomes
// unknown with the exception's message. `also`, when given, sees every event of the same
// pass after the checkers (what else a run builds from its history: one read for all).
std::vector<CheckResult> CheckHistoryFile(
    const std::string& path, std::string* error,
    const std::function<void(const EventView&)>& also = nullptr);
// The same over a history's bytes from a source (harness/history/history.h's ByteSource:
// read(dst, n) fills up to n bytes, 0 only at the end); `name` stands for the file in
// messages.
std::vector<CheckResult> CheckHistory(const std::function<size_t(char*, size_t)>& read,
                                      const std::string& name, std::string* error,
                                      const std::function<void(const EventView&)>& also = nullptr);
// The same over events in memory, decoded exactly as a file's lines; an event that does
// not decode makes every checker unknown.
std::vector<CheckResult> CheckEvents(const std::vector<Event>& events);
Validity Compose(const std::vector<CheckResult>& results);

// Cascades, for the report: each task that kept others from running (their final status
// names it as blockedBy), once, with how many it blocked and the first few of them, in
// order of first appearance. Not a property: it judges nothing.
struct RootCause {
  std::string task;
  int64_t blocked = 0;
  std::vector<std::string> examples;  // at most 3
};
std::vector<RootCause> RootCauses(const std::string& history_path, std::string* error);
// The same from the events of a pass another reader makes.
class RootCauseCollector {
 public:
  void Observe(const EventView& e);
  std::vector<RootCause> Take() { return std::move(out_); }

 private:
  std::vector<RootCause> out_;
  std::unordered_map<std::string, size_t> index_;  // root -> its place in out_
};

}  // namespace ithappens::harness
