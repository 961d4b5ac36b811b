// The workload of a scenario, planned ahead: every task with its ground truth (what a
// correct platform must make of it), and the submissions that create them over time.
// A pure function of the scenario and the load multiplier; nothing here touches a
// platform, so sim and real mode share it.
#pragma once

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/payload.h"
#include "engine/task.h"
#include "harness/parts.h"
#include "harness/scenario/scenario.h"

namespace ithappens::harness {

// One notification a task's program may send (ground truth for the effect checkers).
struct PlannedEffect {
  int64_t step = 0;
  std::string channel, to;
};

// A planned outcome in one byte: none (""), completed, failed, exception or blocked. Reads
// as its name; made from one of those names only (anything else is a planner's bug: it
// throws std::logic_error).
class Outcome {
 public:
  Outcome() = default;
  Outcome(std::string_view name);  // NOLINT: the planner assigns names
  Outcome(const char* name) : Outcome(std::string_view(name)) {}  // NOLINT: as a literal
  std::string_view view() const { return kNames[code_]; }
  operator std::string_view() const { return view(); }  // NOLINT: reads as its name
  bool empty() const { return code_ == 0; }
  friend bool operator==(Outcome a, std::string_view b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, Outcome o) { return os << o.view(); }

 private:
  static constexpr std::array<std::string_view, 5> kNames = {"", "completed", "failed", "exception",
                                                             "blocked"};
  uint8_t code_ = 0;
};

struct PlannedTask {
  // The definition: one object from the plan to the engine. The simulator stamps it when
  // it submits it (created, deadline, the expiry the engine would fill in) while nobody
  // else holds it, and copies it first when someone does (the engine keeps the object it
  // was given); real mode sends a stamped copy. Copies of a PlannedTask share it. The
  // planner always sets it.
  std::shared_ptr<engine::TaskDefinition> def;
  // The payload, parsed once by the planner (shared by tasks with the same program). When
  // substitute is set the program is its workload's template, shared by every task of it:
  // an effect's `to` holds "{i}" where this task's text has its ordinal (EffectTo puts it
  // in; ProgramOrdinal()).
  std::shared_ptr<const engine::Result<worker::Program>> program;
  engine::SparseText root;             // blocked: the root cause (one pointer: rarely set)
  int64_t ordinal = 0;                 // within its workload (picks the field a re-create changes)
  int64_t deadline_after_ms = 0;       // deadline = created + this
  int64_t created_at_ms = -1;          // fixed created time (cron filler), or -1: at submission
  // Client calls after the create was answered OK (WorkloadSpec's *_after_ms; -1: none).
  int64_t recreate_after_ms = -1, cancel_after_ms = -1, rerun_after_ms = -1;
  int client = 0;  // which client submits it
  // What it may deliver: the effect steps of its program before this step (Effects()).
  int32_t effect_steps = 0;
  Outcome expect;           // completed | failed | exception | blocked
  Outcome runs_as;          // what the program itself ends as when it runs
  bool substitute = false;  // program is the template (see program)
  // The ordinal to put in the program's effects (EffectTo), or -1: the program is its own.
  int64_t ProgramOrdinal() const { return substitute ? ordinal : -1; }
  // The `plan` event's value as JSON text (written without building a JSON object):
  // {deps, effects [{channel, step, to}], expect, program, requires, retries, root?,
  // runs_as}.
  std::string PlanJson() const;
  // Every notification a run of it may deliver, from its program (kept as a step count, not
  // a list per task: a batch of 10^6 would hold 10^6 lists).
  std::vector<PlannedEffect> Effects() const;
};
// A batch of 10^6 holds 10^6 of these.
static_assert(sizeof(PlannedTask) <= 104);

// The definition a re-create sends to prove the platform compares definitions: def with
// one field changed (which % 10: deadline, retries, payload, priority, dependencies,
// requires, taskGroupId, expires, routes, metadata), and
// that field's Taskcluster name in *field.
engine::TaskDefinition ChangedDefinition(const engine::TaskDefinition& def, int64_t which,
                                         std::string* field);

// Creates at and just past each bound of a task definition (retries, deadline, payload,
// dependencies, created window, expires, routes, metadata, ids): a correct platform
// accepts the first and refuses the second. `pool` tasks come first (the dependencies of
// the dependency probes); every accepted one runs [{"exit":0}]. Built at now_ms (the
// created window is relative to it).
struct BoundProbe {
  engine::TaskDefinition def;
  bool accept = true;
  std::string bound;  // "retries 49", "dependencies 101", ...
};
std::vector<BoundProbe> BoundProbes(const std::string& scenario, int64_t now_ms);

// A digest of everything a create compares (after the engine's normalisation: an empty
// task group is the task's id, expires 0 is deadline + 1 year): equal definitions, equal
// digests. 16 hex digits; what the history's create events carry.
std::string DefinitionDigest(const engine::TaskDefinition& def);
// The same 16 characters, held without an allocation (the simulator keeps one per create
// in flight and per cron filler).
using DigestText = std::array<char, 16>;
DigestText DefinitionDigestText(const engine::TaskDefinition& def);

// A hook of the engine (Taskcluster's cron hooks): created at at_ms, removed at until_ms.
// Every schedule time in (at_ms, until_ms], and the first after it, is a candidate fire
// with a planned task of the deterministic id; which candidates a correct engine must fire
// depends on the faults (no catch-up), so the hook-fires checker judges that.
struct PlannedHook {
  engine::HookDefinition def;
  int client = 0;
  int64_t at_ms = 0, until_ms = 0;
  std::vector<int64_t> fire_ms;    // candidate fire times, ascending
  std::vector<size_t> fire_tasks;  // their planned tasks (indices into Workload::tasks)
  int64_t next_ms = 0;             // the schedule's time after the last candidate
  // The `plan` event's value (f "hook"): {hook, key, schedule, at_ms, until_ms,
  // fires: [{at_ms, task}], next_ms}.
  nlohmann::json PlanValue(const std::vector<PlannedTask>& tasks) const;
};

struct Workload {
  std::vector<PlannedTask> tasks;
  std::vector<PlannedHook> hooks;
  std::vector<Submission> submissions;  // in planning order (a repeating one: once)
  int64_t last_ms = 0;                  // the last submission time of any workload
};

// "{i}" in text replaced by i (a workload's program: each task's payload).
std::string ExpandOrdinal(const std::string& text, int64_t i);
// The recipient of effect step st of a task whose program is shared with ordinal
// (PlannedTask::ProgramOrdinal(); -1: the program is the task's own, st.to as it is).
std::string EffectTo(const worker::Step& st, int64_t ordinal);

// The parsed programs of one workload's tasks: the payload text with "{i}" expanded to the
// task's ordinal. Parsed once when that is exactly the same as parsing each task's text
// (no escapes, "{i}" only inside effects' `to`; equal texts share one parse), else parsed
// per task. The worker's parser is the judge either way (engine/include/engine/payload.h).
class ProgramCache {
 public:
  explicit ProgramCache(std::string program);
  // expanded must be the program with "{i}" replaced by i.
  std::shared_ptr<const engine::Result<worker::Program>> For(int64_t i,
                                                             const std::string& expanded) const;
  // The template itself when it is task i's program once "{i}" in its effects' `to` is
  // replaced by i (*substitute: whether there is any to replace; EffectTo does it); nullptr
  // when task i's program must come from For (an expanded `to` over the parser's bound).
  std::shared_ptr<const engine::Result<worker::Program>> Shared(int64_t i, bool* substitute) const;

 private:
  std::string text_;
  std::shared_ptr<const engine::Result<worker::Program>> template_;
  bool same_ = false, substitute_ = false;
};

// The size of a whole run, computed from the scenario and the load without planning it
// (a 10^12-task scenario is refused in microseconds, not after it ran out of memory).
// Every figure is an upper bound of what the run makes.
// Until when a hook's fires are candidates (planned tasks): its until_s, or, when faults
// are open then, the end of the last of them (chained: one open when the one before ends)
// plus kHookRemovalSlackMs. The client removes its hook at until_s and retries while the
// engine cannot answer; the hook fires on until the removal lands, and those fires are
// the platform doing its job. Fires after the removal was acknowledged stay violations
// (hook-fires); fires of candidates after the removal was sent are never owed.
inline constexpr int64_t kHookRemovalSlackMs = 10 * 60'000;
int64_t HookCandidatesUntilMs(const Scenario& s, const WorkloadSpec& spec);

struct RunSize {
  double tasks = 0;    // planned tasks (hook fires included), x load
  double creates = 0;  // create calls the clients send (cron fillers re-submit), x load
  double effects = 0;  // notifications the programs may deliver
  double polls = 0;    // worker claim calls: workers x the simulated horizon / poll_ms
  double horizon_s = 0;
};
RunSize SizeOfRun(const Scenario& scenario, double load);

// The bounds on a whole run (docs/scenarios.md, "Bounds"): each field of a scenario is
// bounded, and so is their product. The figures keep a run inside a 24 GiB machine and a
// history inside a few GB.
inline constexpr double kMaxRunTasks = 2'000'000;
inline constexpr double kMaxRunCreates = 10'000'000;
inline constexpr double kMaxRunEffects = 10'000'000;
inline constexpr double kMaxRunPolls = 100'000'000;

// OK, or InvalidArgument naming the file, the figure, its computed total, the bound and
// what to lower ("smoke.yaml: at --load 10x the run plans 20000000 tasks (workload[0]:
// 20000000), over the bound of 2000000 per run: lower tasks or --load").
engine::Status CheckRunSize(const Scenario& scenario, double load);

// Plans scenario.workload scaled by load (task counts, chains, hooks and arrival rates
// grow). Times are relative to the run's start, epoch_ms in absolute time: cron schedules
// and hook task ids depend on the absolute fire time.
Workload PlanWorkload(const Scenario& scenario, double load, int64_t epoch_ms = 0);

// The submissions of a planned workload, one by one, each repetition of a repeating one
// on its own (in planning order: a submission's repetitions one after the other).
class WorkloadGenerator final : public Generator {
 public:
  explicit WorkloadGenerator(const Workload& w) : w_(w) {}
  std::optional<Submission> Next() override {
    if (next_ == w_.submissions.size()) return std::nullopt;
    const Submission& s = w_.submissions[next_];
    Submission one{s.at_ms + rep_ * s.every_ms, s.tasks};
    if (++rep_ >= s.repeats) {
      rep_ = 0;
      ++next_;
    }
    return one;
  }

 private:
  const Workload& w_;
  size_t next_ = 0;
  int64_t rep_ = 0;
};

// Every submission with its repetitions spelled out, in planning order (real mode, tests).
std::vector<Submission> ExpandSubmissions(const Workload& w);

}  // namespace ithappens::harness
