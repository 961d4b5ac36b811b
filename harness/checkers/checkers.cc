// The standard checkers. Each reads each event once and keeps per-task state only (memory
// O(tasks)), in vectors indexed by the reader's interned task index. The events they rely
// on (harness/event.h; fields as decoded into EventView):
//   plan   f "task": task, {expect: completed|failed|exception|blocked, root?, deps, effects
//          [{step, channel, to}]}; f "hook": {hook, fires [{at_ms, task}], next_ms}
//   create invoke/ok {task_id}/fail/info by a client
//   report-completed invoke/ok/fail/info by a worker, {run}
//   create-hook, remove-hook invoke/ok/fail/info by a client, {hook}
//   effect {key, step, run, channel, to, delivered}
//   fault  any nemesis fault (start/stop), {target?, duration_ms}
//   final  task, {state, blocked_by?, deadline_ms, runs [{state, reason_created,
//          reason_resolved, worker, started_ms, resolved_ms}]}, or error "not found"
#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <unordered_map>

#include "harness/checker.h"
#include "harness/checkers/checker_util.h"
#include "harness/history/history.h"

namespace ithappens::harness {

std::string_view ToString(Validity v) {
  switch (v) {
    case Validity::kValid:
      return "valid";
    case Validity::kInvalid:
      return "invalid";
    case Validity::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

using nlohmann::json;

using checkers::Evidence;
using checkers::Flag;
using checkers::Slot;

// Every acknowledged create must still exist at the end.
class NoLost final : public Checker {
 public:
  std::string name() const override { return "no-lost"; }
  void Observe(const EventView& e) override {
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kOk && e.call == Call::kCreate) {
      int64_t& at = Slot(acked_, e.task_ix, int64_t{-1});
      if (at < 0) ++acknowledged_;
      at = e.i;
    }
    if (e.type == EventType::kFinal) {
      if (e.task_ix >= acked_.size() || acked_[e.task_ix] < 0) return;
      ++checked_;
      if (!e.error.empty()) {
        Flag(&r_, e.task, {acked_[e.task_ix], e.i},
             "acknowledged create, then the task is gone: " + std::string(e.error));
        ++lost_;
      }
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"acknowledged", acknowledged_}, {"checked", checked_}, {"lost", lost_}};
    return r_;
  }

 private:
  std::vector<int64_t> acked_;  // the last acknowledging event, or -1
  int64_t acknowledged_ = 0, checked_ = 0, lost_ = 0;
  CheckResult r_;
};

// A retried create must not make a second task.
class NoDuplicateTasks final : public Checker {
 public:
  std::string name() const override { return "no-duplicate-tasks"; }
  void Observe(const EventView& e) override {
    if (e.type != EventType::kOk || e.call != Call::kCreate || e.task_ix == kNoTask ||
        e.value_json.empty())
      return;
    const std::string_view got = e.task_id.empty() ? e.task : e.task_id;
    Seen& s = Slot(seen_, e.task_ix);
    s.evidence.Add(e.i);
    if (!s.any) {
      s.any = true;
      s.first_is_own = got == e.task;  // the usual case: no copy of the id kept
      if (!s.first_is_own) foreign_first_[e.task_ix] = got;
      ++tasks_;
    }
    if (got != e.task && !s.foreign) {
      // The platform answered with an id of its own: a create retried after a lost answer
      // makes a second task, and the client cannot tell.
      s.foreign = true;
      ++foreign_;
      Flag(&r_, e.task, {e.i},
           "the platform ignored the client's task id (answered " + std::string(got) +
               "): creates are not idempotent");
    }
    if (got != (s.first_is_own ? e.task : std::string_view(foreign_first_[e.task_ix])) &&
        !s.duplicated) {
      s.duplicated = true;
      ++dups_;
      Flag(&r_, e.task, s.evidence.Events(),
           "one logical task was created as 2 platform tasks (the create was not idempotent)");
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"tasks", tasks_}, {"duplicated", dups_}, {"foreign_ids", foreign_}};
    return r_;
  }

 private:
  struct Seen {
    bool any = false, foreign = false, duplicated = false;
    bool first_is_own = false;  // the first id the platform answered was the task's own
    Evidence evidence;
  };
  std::vector<Seen> seen_;
  std::unordered_map<uint32_t, std::string> foreign_first_;  // else that id, by task (rare)
  int64_t tasks_ = 0, dups_ = 0, foreign_ = 0;
  CheckResult r_;
};

// At most one delivery per (task, step); per recipient no more than planned; and, with a
// herd guard in the plan (f "herd-guard", {window_ms, max}), no recipient gets more than
// max deliveries within any window_ms (the thundering herd after an outage). A real run
// states its timing slack (plan "target" timing_slack_ms: how late its processes may act,
// in run time): the window judged is that much shorter, so that a burst is certain.
class NoDuplicateEffects final : public Checker {
 public:
  std::string name() const override { return "no-duplicate-effects"; }
  void Observe(const EventView& e) override {
    if (e.type == EventType::kPlan) {
      for (const EffectFacts& fx : e.effects) Slot(planned_, fx.recipient_ix)++;
      if (e.call == Call::kTask && e.task_ix != kNoTask) Slot(planned_task_, e.task_ix) = 1;
      if (e.call == Call::kTarget && e.timing_slack_ms > 0) slack_ms_ = e.timing_slack_ms;
      if (e.call == Call::kHerdGuard) {
        herd_window_ms_ = e.value().at("window_ms").get<int64_t>();
        herd_max_ = e.value().at("max").get<int64_t>();
      }
    }
    if (e.type == EventType::kFault && IsFaultOf(e.f, FaultKindId::kClockJump)) clock_jumped_ = true;
    if (e.type != EventType::kEffect || !e.delivered || e.task_ix == kNoTask) return;
    ++delivered_;
    Steps& steps = Slot(per_step_, e.task_ix);
    StepSeen* it = steps.first.count > 0 && steps.first.step == e.step ? &steps.first : nullptr;
    for (size_t k = 0; it == nullptr && k < steps.more.size(); ++k)
      if (steps.more[k].step == e.step) it = &steps.more[k];
    if (it == nullptr) {
      (steps.first.count == 0 ? steps.first : steps.more.emplace_back()) = {e.step, e.i, 1};
      ++distinct_steps_;
    } else if (++it->count == 2) {
      const std::string step = std::string(e.task) + "/" + std::to_string(e.step);
      Flag(&r_, e.task, {it->first_i, e.i}, "step " + step + " notified its recipient twice");
    }
    const uint32_t r = e.recipient_ix;  // (channel, to), interned by the reader
    if (r == kNoTask) return;           // a delivery to nobody in particular
    if (herd_window_ms_ > slack_ms_) Herd(e, r);
    // A task no plan names counts against its recipient's plan too (a platform that made
    // up task ids), except after a clock jump: a hook on a jumped clock fires at times no
    // plan names, so its tasks are judged by the herd guard and by task-model instead.
    const bool unplanned = e.task_ix >= planned_task_.size() || !planned_task_[e.task_ix];
    unplanned_ += unplanned;
    if (unplanned && clock_jumped_) return;
    const int64_t n = ++Slot(per_recipient_, r);
    if (n == Slot(planned_, r) + 1) {
      Flag(&r_, e.task, {e.i},
           std::string(e.channel) + ":" + std::string(e.to) +
               " got more notifications than planned (" + std::to_string(n) + ")");
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {
        {"delivered", delivered_}, {"steps", distinct_steps_}, {"by_unplanned_tasks", unplanned_}};
    if (herd_window_ms_ > 0) {
      r_.counts["herd_window_ms"] = herd_window_ms_;
      if (slack_ms_ > 0) r_.counts["herd_window_judged_ms"] = std::max<int64_t>(0, herd_window_ms_ - slack_ms_);
      r_.counts["herd_max"] = herd_max_;
      r_.counts["herded_recipients"] = herded_;
    }
    return r_;
  }

 private:
  struct StepSeen {
    int64_t step = -1, first_i = -1, count = 0;
  };
  struct Steps {  // most tasks deliver one step: no allocation for it
    StepSeen first;
    std::vector<StepSeen> more;
  };
  // The recipient's deliveries in the window ending now: at most herd_max_ + 1 kept.
  void Herd(const EventView& e, uint32_t r) {
    Recent& recent = Slot(recent_, r);
    const int64_t now_ms = e.t_ns / 1'000'000;
    recent.times.push_back({now_ms, e.i});
    const int64_t window = herd_window_ms_ - slack_ms_;
    while (recent.times[recent.head].first <= now_ms - window) ++recent.head;
    const int64_t in_window = static_cast<int64_t>(recent.times.size() - recent.head);
    if (in_window > herd_max_) {
      if (!recent.flagged) {
        recent.flagged = true;
        ++herded_;
        Flag(&r_, e.task, {recent.times[recent.head].second, e.i},
             std::string(e.channel) + ":" + std::string(e.to) + " got " +
                 std::to_string(in_window) + " notifications within " +
                 std::to_string(window / 1000) + " s (the herd guard allows " +
                 std::to_string(herd_max_) + ")");
      }
      ++recent.head;  // keep herd_max_ of them: memory stays bounded
    }
    if (recent.head > 64 && recent.head * 2 > recent.times.size()) {
      recent.times.erase(recent.times.begin(),
                         recent.times.begin() + static_cast<ptrdiff_t>(recent.head));
      recent.head = 0;
    }
  }
  struct Recent {
    std::vector<std::pair<int64_t, int64_t>> times;  // (ms, event index)
    size_t head = 0;
    bool flagged = false;
  };
  std::vector<int64_t> planned_, per_recipient_;
  std::vector<uint8_t> planned_task_;
  int64_t unplanned_ = 0;
  bool clock_jumped_ = false;
  std::vector<Steps> per_step_;
  std::vector<Recent> recent_;
  int64_t herd_window_ms_ = 0, herd_max_ = 0, herded_ = 0;
  int64_t slack_ms_ = 0;  // the run's timing slack (real mode), shortening the window judged
  int64_t delivered_ = 0, distinct_steps_ = 0;
  CheckResult r_;
};

// Notifications escalate in program order (email -> SMS -> call): a task's deliveries
// must come in increasing step order.
class EffectOrder final : public Checker {
 public:
  std::string name() const override { return "effect-order"; }
  void Observe(const EventView& e) override {
    if (e.type != EventType::kEffect || !e.delivered || e.task_ix == kNoTask) return;
    Last& last = Slot(last_, e.task_ix);
    if (last.i >= 0 && e.step <= last.step) {
      Flag(&r_, e.task, {last.i, e.i},
           "step " + std::to_string(e.step) + " was delivered after step " +
               std::to_string(last.step));
    }
    last = {e.step, e.i};
    ++checked_;
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"deliveries", checked_}};
    return r_;
  }

 private:
  struct Last {
    int64_t step = -1, i = -1;
  };
  std::vector<Last> last_;
  int64_t checked_ = 0;
  CheckResult r_;
};

// A task completes once: one accepted completion report, one completed run. A rerun that
// someone asked for may complete the task again (a new run, by Taskcluster's rules).
class SingleCompletion final : public Checker {
 public:
  std::string name() const override { return "single-completion"; }
  void Observe(const EventView& e) override {
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kInvoke && e.call == Call::kRerun)
      Slot(accepted_, e.task_ix).rerun = true;
    if (e.type == EventType::kOk && e.call == Call::kReportCompleted) {
      Accepted& a = Slot(accepted_, e.task_ix);
      a.evidence.Add(e.i);
      if (a.runs == 0) {
        a.runs = 1;
        a.first_run = e.run;
        ++tasks_completed_;
      } else if (a.runs == 1 && e.run != a.first_run && !a.rerun) {
        a.runs = 2;
        Flag(&r_, e.task, a.evidence.Events(), "two runs' completions were accepted");
      }
    }
    if (e.type == EventType::kFinal && !e.runs.empty()) {
      // At most one completed run before the first rerun, and between reruns.
      int completed = 0, most = 0;
      for (const RunFacts& r : e.runs) {
        if (r.reason_created == "rerun") completed = 0;
        completed += r.state == "completed";
        most = std::max(most, completed);
      }
      const int accepted = e.task_ix < accepted_.size() ? accepted_[e.task_ix].runs : 0;
      if (most > 1 && accepted < 2) {
        Flag(&r_, e.task, {e.i}, std::to_string(most) + " runs completed with no rerun between");
      }
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"tasks_completed", tasks_completed_}};
    return r_;
  }

 private:
  struct Accepted {
    int runs = 0;  // distinct runs whose completion was accepted (counted up to 2)
    int64_t first_run = -1;
    bool rerun = false;  // someone asked for a rerun
    Evidence evidence;
  };
  std::vector<Accepted> accepted_;
  int64_t tasks_completed_ = 0;
  CheckResult r_;
};

// DESIGN.md's attribution table, judged against the plan (the ground truth).
class Attribution final : public Checker {
 public:
  std::string name() const override { return "attribution"; }
  void Observe(const EventView& e) override {
    if (e.type == EventType::kFault) ++faults_;
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kPlan && e.call == Call::kTask) {
      uint32_t root = kNoRoot;
      if (!e.root.empty()) {
        root = static_cast<uint32_t>(roots_.size());
        roots_.emplace_back(e.root);
      }
      Slot(plan_, e.task_ix) = Plan{true, texts_.Code(e.expect), root,
                                    texts_.Code(e.runs_as.empty() ? e.expect : e.runs_as), e.i};
    }
    if (e.type != EventType::kFinal || !e.error.empty()) return;
    if (e.task_ix >= plan_.size() || !plan_[e.task_ix].planned) return;
    const Plan& plan = plan_[e.task_ix];
    const PlanText p{texts_.Name(plan.expect), texts_.Name(plan.runs_as),
              plan.root == kNoRoot ? std::string_view() : std::string_view(roots_[plan.root]),
              plan.i};
    ++judged_;
    const std::string_view ended = e.state == "unscheduled" && !e.blocked_by.empty() ? "blocked"
                                   : e.state.empty()                                 ? "unknown"
                                                                                     : e.state;
    Count(plan.expect, texts_.Code(ended));
    for (size_t k = 0; k < e.runs.size(); ++k) {
      const RunFacts& run = e.runs[k];
      if (run.state == "failed" && p.runs_as != "failed") {
        Flag(&r_, e.task, {p.i, e.i},
             "run " + std::to_string(k) +
                 " is failed, but the program succeeds: the user is blamed "
                 "for a platform fault");
      }
      if (run.state == "failed" && k + 1 < e.runs.size()) {
        const std::string_view next = e.runs[k + 1].reason_created;
        if (next == "retry" || next == "task-retry") {
          Flag(&r_, e.task, {p.i, e.i},
               "a user failure (run " + std::to_string(k) + ") was retried");
        }
      }
      const bool platform =
          run.reason_resolved == "claim-expired" || run.reason_resolved == "worker-shutdown";
      if (run.state == "exception" && platform && faults_ == 0) {
        Flag(&r_, e.task, {e.i},
             "exception/" + std::string(run.reason_resolved) + " although no fault was injected");
      }
    }
    if (p.expect == "completed" && e.state == "failed") ++misattributed_;
    if (p.expect == "failed" && e.state == "completed") {
      Flag(&r_, e.task, {p.i, e.i}, "the program fails, but the task completed");
    }
    if (p.expect == "blocked" && e.state == "unscheduled" && e.blocked_by != p.root) {
      Flag(&r_, e.task, {p.i, e.i},
           "blocked by '" + std::string(e.blocked_by) + "', but the root cause is '" +
               std::string(p.root) + "'");
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    std::map<std::string, std::map<std::string, int64_t>> matrix;  // planned -> ended -> n
    for (size_t x = 0; x < matrix_.size(); ++x)
      for (size_t y = 0; y < matrix_[x].size(); ++y)
        if (matrix_[x][y] > 0) matrix[texts_.Name(x)][texts_.Name(y)] = matrix_[x][y];
    r_.counts = {{"judged", judged_},
                 {"faults", faults_},
                 {"failed_although_succeeding", misattributed_},
                 {"matrix", matrix}};
    return r_;
  }

 private:
  static constexpr uint32_t kNoRoot = UINT32_MAX;
  // A task's plan, small: its texts as codes of texts_, its root (rare) in roots_.
  struct Plan {
    bool planned = false;
    uint32_t expect = 0, root = kNoRoot;
    uint32_t runs_as = 0;  // what the program ends as when it runs (a rerun of a blocked task)
    int64_t i = 0;
  };
  // The plan of the task being judged, as text.
  struct PlanText {
    std::string_view expect, runs_as, root;
    int64_t i;
  };
  void Count(uint32_t expect, uint32_t ended) {
    if (matrix_.size() <= expect) matrix_.resize(expect + 1);
    if (matrix_[expect].size() <= ended) matrix_[expect].resize(ended + 1);
    ++matrix_[expect][ended];
  }
  checkers::SmallNames texts_;
  std::vector<std::string> roots_;
  std::vector<Plan> plan_;
  std::vector<std::vector<int64_t>> matrix_;  // [expect code][ended code] -> n
  int64_t faults_ = 0, judged_ = 0, misattributed_ = 0;
  CheckResult r_;
};

// No dependent starts before its dependencies are satisfied: completed, or under
// all-resolved resolved with no automatic retry to follow.
class DependencyOrder final : public Checker {
 public:
  std::string name() const override { return "dependency-order"; }
  void Observe(const EventView& e) override {
    if (e.type == EventType::kFault && IsFaultOf(e.f, FaultKindId::kClockJump)) clock_jumped_ = true;
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kPlan && e.call == Call::kTask) {
      names_.Set(e.task_ix, e.task);
      if (!e.deps.empty()) deps_.push_back({e.task_ix, e.requires_ == "all-resolved", e.deps});
    }
    if (e.type != EventType::kFinal || !e.error.empty()) return;
    int64_t done = -1, resolved = -1, first_start = -1;
    bool rerun = false;
    for (size_t k = 0; k < e.runs.size(); ++k) {
      const RunFacts& r = e.runs[k];
      if (r.state == "completed" && done < 0) done = r.resolved_ms;
      const std::string_view next = k + 1 < e.runs.size() ? e.runs[k + 1].reason_created : "";
      if (IsTerminalState(r.state) && resolved < 0 && next != "retry" && next != "task-retry")
        resolved = r.resolved_ms;
      // A rerun someone asked for runs when asked (Taskcluster's rerunTask does not wait
      // for dependencies; docs/decisions.md), and so do its retries: only the runs before
      // the first rerun must wait.
      rerun |= r.reason_created == "rerun";
      const int64_t s = r.started_ms;
      if (!rerun && s > 0 && (first_start < 0 || s < first_start)) first_start = s;
    }
    Slot(satisfied_at_, e.task_ix, Satisfied{}) = {done, resolved};
    Slot(started_at_, e.task_ix, Start{}) = {first_start, e.i};
  }
  CheckResult Finish() override {
    r_.checker = name();
    int64_t edges = 0;
    if (clock_jumped_) {
      // The platform's times come from a clock that jumped: they cannot order runs.
      r_.counts = {{"edges", 0}, {"unjudged_clock_jumped", deps_.size()}};
      return r_;
    }
    for (const Edges& d : deps_) {
      if (d.task >= started_at_.size() || started_at_[d.task].ms < 0) continue;
      const Start& s = started_at_[d.task];
      for (uint32_t dep : d.deps) {
        ++edges;
        const Satisfied sat = dep < satisfied_at_.size() ? satisfied_at_[dep] : Satisfied{};
        const int64_t c = d.all_resolved ? sat.resolved_ms : sat.completed_ms;
        if (c < 0 || c > s.ms) {
          Flag(&r_, Name(d.task), {s.i},
               "started before its dependency " + Name(dep) +
                   (d.all_resolved ? " resolved" : " completed"));
        }
      }
    }
    r_.counts = {{"edges", edges}};
    return r_;
  }

 private:
  struct Start {
    int64_t ms = -1, i = -1;
  };
  struct Satisfied {
    int64_t completed_ms = -1, resolved_ms = -1;
  };
  struct Edges {
    uint32_t task;
    bool all_resolved;
    std::vector<uint32_t> deps;
  };
  std::string Name(uint32_t ix) const { return std::string(names_.Get(ix, "?")); }
  checkers::NameTable names_;
  std::vector<Edges> deps_;  // plan order
  std::vector<Satisfied> satisfied_at_;
  std::vector<Start> started_at_;
  bool clock_jumped_ = false;
  CheckResult r_;
};

// Deadlines hold: no run completes after its task's deadline, and no task is still
// unresolved past it (the platform must resolve it as exception/deadline-exceeded).
class Deadline final : public Checker {
 public:
  std::string name() const override { return "deadline"; }
  void Observe(const EventView& e) override {
    if (e.type != EventType::kFinal || !e.error.empty() || !e.has_deadline) return;
    const int64_t deadline = e.deadline_ms;
    const int64_t now_ms = e.t_ns / 1'000'000;
    ++checked_;
    for (const RunFacts& r : e.runs) {
      if (r.state == "completed" && r.resolved_ms > deadline) {
        Flag(&r_, e.task, {e.i}, "a run completed after the task's deadline");
      }
    }
    if (!IsTerminalState(e.state) && now_ms > deadline) {
      Flag(&r_, e.task, {e.i},
           "still " + std::string(e.state) + " " + std::to_string(now_ms - deadline) +
               " ms past its deadline");
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"checked", checked_}};
    return r_;
  }

 private:
  int64_t checked_ = 0;
  CheckResult r_;
};

// After the heal phase every planned task that exists is terminal, or blocked: unscheduled
// with a root cause (blockedBy) that really ended failed or exception. A planned success
// can be blocked too, when a platform fault used up its upstream's retries; that the root
// is the right one is attribution's to judge. Covered: the acknowledged tasks, those whose
// create's answer was lost but which were made, and those a hook fired.
class Liveness final : public Checker {
 public:
  std::string name() const override { return "liveness"; }
  void Observe(const EventView& e) override {
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kPlan && e.call == Call::kTask)
      Slot(planned_, e.task_ix) = e.requires_ == "all-resolved" ? kAllResolved : kAllCompleted;
    if (e.type != EventType::kFinal || !e.error.empty()) return;
    if (e.state == "failed" || e.state == "exception") bad_end_.insert(std::string(e.task));
    if (e.task_ix >= planned_.size() || planned_[e.task_ix] == kUnplanned) return;
    if (IsTerminalState(e.state)) {
      ++terminal_;
    } else if (e.state == "unscheduled" && !e.blocked_by.empty()) {
      blocked_.push_back(Blocked{std::string(e.task), std::string(e.blocked_by), e.i,
                                 planned_[e.task_ix] == kAllResolved});
    } else {
      Flag(&r_, e.task, {e.i}, "still " + std::string(e.state) + " after the heal phase");
      ++stuck_;
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    for (const Blocked& b : blocked_) {
      if (bad_end_.count(b.by) && !b.all_resolved) {
        ++blocked_ok_;
        continue;
      }
      if (b.all_resolved && bad_end_.count(b.by)) {
        ++stuck_;
        Flag(&r_, b.task, {b.i},
             "unscheduled, blocked by " + b.by +
                 ", which resolved: under requires all-resolved that satisfies it");
        continue;
      }
      ++stuck_;
      Flag(&r_, b.task, {b.i},
           "unscheduled, blocked by " + b.by +
               ", which did not end failed or exception: nothing keeps it from running");
    }
    r_.counts = {{"terminal", terminal_}, {"blocked", blocked_ok_}, {"stuck", stuck_}};
    return r_;
  }

 private:
  struct Blocked {
    std::string task, by;
    int64_t i;
    bool all_resolved;
  };
  enum : uint8_t { kUnplanned, kAllCompleted, kAllResolved };
  std::vector<uint8_t> planned_;
  std::vector<Blocked> blocked_;
  std::set<std::string> bad_end_;  // tasks whose final state is failed or exception
  int64_t terminal_ = 0, blocked_ok_ = 0, stuck_ = 0;
  CheckResult r_;
};

class HookFires final : public Checker {
 public:
  static constexpr int64_t kMinUpMs = 1'000;
  std::string name() const override { return "hook-fires"; }
  void Observe(const EventView& e) override {
    const int64_t now_ms = e.t_ns / 1'000'000;
    if (e.type == EventType::kPlan && e.call == Call::kHook) {
      const json& v = e.value();  // rare: one per hook
      Hook& h = hooks_[v.at("hook").get<std::string>()];
      h.plan_i = e.i;
      h.next_ms = v.value("next_ms", int64_t{0});
      for (const auto& f : v.at("fires")) {
        fire_of_[f.at("task").get<std::string>()] = {&h, h.fires.size()};
        h.fires.push_back(Fire{f.at("at_ms").get<int64_t>(), false, -1});
      }
      order_.push_back(&h);
      return;
    }
    if (e.call == Call::kCreateHook || e.call == Call::kRemoveHook) {
      auto it = hooks_.find(std::string(e.hook));
      if (it == hooks_.end()) return;
      Hook& h = it->second;
      if (e.call == Call::kCreateHook && e.type == EventType::kOk && h.created_ms < 0)
        h.created_ms = now_ms + jump_offset_ms_;  // on the engine's clock
      if (e.call == Call::kRemoveHook && e.type == EventType::kInvoke && h.removing_ms < 0)
        h.removing_ms = now_ms;
      if (e.call == Call::kRemoveHook && e.type == EventType::kOk && h.removed_ms < 0)
        h.removed_ms = now_ms;
      return;
    }
    if (e.type == EventType::kFault) Disturb(e, now_ms);
    if (e.type == EventType::kFinal && e.error.empty() && !fire_of_.empty()) {
      auto it = fire_of_.find(std::string(e.task));
      if (it == fire_of_.end()) return;
      it->second.first->fires[it->second.second].exists = true;
      it->second.first->fires[it->second.second].final_i = e.i;
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    for (const auto& open : open_) spans_.emplace_back(open.second, INT64_MAX);
    int64_t candidates = 0, owed = 0, fired = 0, missed = 0;
    for (const Hook* h : order_) {
      for (size_t k = 0; k < h->fires.size(); ++k) {
        const Fire& f = h->fires[k];
        const int64_t next = k + 1 < h->fires.size() ? h->fires[k + 1].at_ms : h->next_ms;
        ++candidates;
        fired += f.exists;
        const bool existed = h->created_ms >= 0 && h->created_ms <= f.at_ms &&
                             (h->removing_ms < 0 || h->removing_ms >= next);
        if (existed && LongestUndisturbed(f.at_ms, next) >= kMinUpMs) {
          ++owed;
          if (!f.exists) {
            ++missed;
            Flag(&r_, "", {h->plan_i},
                 "the hook's fire at " + std::to_string(f.at_ms) +
                     " ms is missing: the hook existed and the engine was up until the next "
                     "fire at " +
                     std::to_string(next) + " ms");
          }
        }
        // On a jumped clock the engine fires at times of its own: not judged then.
        if (f.exists && h->removed_ms >= 0 && f.at_ms > h->removed_ms && !clock_jumped_) {
          Flag(&r_, "", {h->plan_i, f.final_i},
               "the hook fired at " + std::to_string(f.at_ms) + " ms, after its removal (" +
                   std::to_string(h->removed_ms) + " ms) was acknowledged");
        }
      }
    }
    r_.counts = {{"hooks", order_.size()},
                 {"candidates", candidates},
                 {"owed", owed},
                 {"fired", fired},
                 {"missed", missed}};
    return r_;
  }

 private:
  struct Fire {
    int64_t at_ms;
    bool exists;
    int64_t final_i;
  };
  struct Hook {
    std::vector<Fire> fires;
    int64_t next_ms = 0, plan_i = 0;
    int64_t created_ms = -1, removing_ms = -1, removed_ms = -1;
  };
  // Windows in which the engine could not be relied on to fire: down, failing its disk, or
  // running on a jumped clock (until it has caught up again).
  void Disturb(const EventView& e, int64_t now_ms) {
    std::string_view name;
    bool start = false;
    if (!ParseFaultEdge(e.f, &name, &start) || !IsEngineWideFault(name)) return;
    const std::string kind(name);
    const bool jump = ParseFaultKind(name) == FaultKindId::kClockJump;
    if (jump) {
      clock_jumped_ = true;
      jump_offset_ms_ = start ? std::max<int64_t>(e.duration_ms, 0) : 0;
    }
    if (start) {
      open_.emplace(kind, now_ms);
    } else {
      auto it = open_.find(kind);
      if (it == open_.end()) return;
      int64_t end = now_ms;
      if (jump && e.duration_ms > 0) end += e.duration_ms;
      spans_.push_back({it->second, end});
      open_.erase(it);
    }
  }
  int64_t LongestUndisturbed(int64_t from, int64_t to) const {
    std::vector<std::pair<int64_t, int64_t>> cut;
    for (const auto& s : spans_)
      if (s.second > from && s.first < to) cut.push_back(s);
    std::sort(cut.begin(), cut.end());
    int64_t best = 0, at = from;
    for (const auto& [a, b] : cut) {
      best = std::max(best, a - at);
      at = std::max(at, b);
    }
    return std::max(best, to - at);
  }
  std::unordered_map<std::string, Hook> hooks_;
  std::vector<Hook*> order_;  // plan order, for the report
  std::unordered_map<std::string, std::pair<Hook*, size_t>> fire_of_;
  std::multimap<std::string, int64_t> open_;
  std::vector<std::pair<int64_t, int64_t>> spans_;
  bool clock_jumped_ = false;
  int64_t jump_offset_ms_ = 0;  // how far the engine's clock is ahead now
  CheckResult r_;
};

// Every planned task is accounted for: created (acknowledged, or found at the end although
// its answer was lost) and so judged by the others, or refused, counted by the refusal's
// code. A refusal is the platform's to explain: one while an engine-wide fault was open
// (a jumped clock, a failing disk, a crash) is counted as explained; any other refusal of
// a create the scenario made valid is a violation (a task the user lost). With nothing
// planned, or nothing created, there is nothing to judge: unknown, never valid.
class PlannedTasks final : public Checker {
 public:
  std::string name() const override { return "planned-tasks"; }
  void Observe(const EventView& e) override {
    const int64_t now_ms = e.t_ns / 1'000'000;
    if (e.type == EventType::kFault) return Fault(e, now_ms);
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kPlan && e.call == Call::kTask) {
      Task& t = Slot(tasks_, e.task_ix);
      if (!t.planned) order_.push_back(e.task_ix);
      t.planned = true;
      names_.Set(e.task_ix, e.task);
      return;
    }
    if (e.type == EventType::kFinal) {
      Slot(tasks_, e.task_ix).exists = e.error.empty();
      return;
    }
    if (e.call != Call::kCreate) return;
    Task& t = Slot(tasks_, e.task_ix);
    if (e.type == EventType::kInvoke) t.submitted = true;
    if (e.type == EventType::kOk) t.acknowledged = true;
    if (e.type == EventType::kFail && !t.acknowledged) {
      t.refusal = std::string(e.error);
      t.refusal_i = e.i;
      t.refusal_explained = EngineFaultOpen(now_ms);
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    int64_t planned = 0, created = 0, by_hooks = 0, refused = 0, explained = 0, lost = 0;
    json by_code = json::object();
    for (uint32_t ix : order_) {
      const Task& t = tasks_[ix];
      ++planned;
      if (!t.submitted) {  // a hook's fire: hook-fires judges whether it was owed
        by_hooks += t.exists;
        continue;
      }
      if (t.acknowledged || t.exists) {
        ++created;
        continue;
      }
      if (t.refusal.empty()) {
        ++lost;  // every answer was lost, and the task is not there
        continue;
      }
      ++refused;
      const std::string code = t.refusal.substr(0, t.refusal.find(':'));
      by_code[code] = by_code.value(code, 0) + 1;
      if (t.refusal_explained) {
        ++explained;
      } else {
        Flag(&r_, names_.Get(ix), {t.refusal_i},
             "the platform refused a create the scenario made valid, with no fault to explain "
             "it: " +
                 t.refusal);
      }
    }
    r_.counts = {{"planned", planned},
                 {"created", created},
                 {"created_by_hooks", by_hooks},
                 {"refused", refused},
                 {"refused_explained", explained},
                 {"refused_by_code", by_code},
                 {"never_answered", lost}};
    if (r_.valid == Validity::kValid && planned == 0) {
      r_.valid = Validity::kUnknown;
      r_.error = "nothing to judge: the history plans no task";
    } else if (r_.valid == Validity::kValid && created + by_hooks == 0) {
      r_.valid = Validity::kUnknown;
      r_.error = "nothing to judge: none of the " + std::to_string(planned) +
                 " planned tasks was created (" + std::to_string(refused) + " refused, " +
                 std::to_string(lost) + " never answered)";
    }
    return r_;
  }

 private:
  struct Task {
    bool planned = false, submitted = false, acknowledged = false, exists = false;
    bool refusal_explained = false;
    std::string refusal;  // the last refusal before any acknowledgement
    int64_t refusal_i = -1;
  };
  void Fault(const EventView& e, int64_t now_ms) {
    std::string_view kind;
    bool start = false;
    if (!ParseFaultEdge(e.f, &kind, &start) || !IsEngineWideFault(kind)) return;
    // A refusal up to a request timeout after the window still belongs to it.
    open_ += start ? 1 : -1;
    if (!start) last_close_ms_ = now_ms;
  }
  bool EngineFaultOpen(int64_t now_ms) const {
    return open_ > 0 || (last_close_ms_ >= 0 && now_ms - last_close_ms_ <= kAfterMs);
  }
  static constexpr int64_t kAfterMs = 10'000;
  std::vector<Task> tasks_;
  checkers::NameTable names_;
  std::vector<uint32_t> order_;
  int open_ = 0;
  int64_t last_close_ms_ = -1;
  CheckResult r_;
};

}  // namespace

std::vector<std::unique_ptr<Checker>> StandardCheckers() {
  std::vector<std::unique_ptr<Checker>> v;
  v.push_back(std::make_unique<NoLost>());
  v.push_back(std::make_unique<NoDuplicateTasks>());
  v.push_back(std::make_unique<NoDuplicateEffects>());
  v.push_back(std::make_unique<EffectOrder>());
  v.push_back(std::make_unique<SingleCompletion>());
  v.push_back(std::make_unique<Attribution>());
  v.push_back(std::make_unique<DependencyOrder>());
  v.push_back(std::make_unique<Deadline>());
  v.push_back(std::make_unique<Liveness>());
  v.push_back(std::make_unique<HookFires>());
  v.push_back(MakeTaskModelChecker());
  v.push_back(std::make_unique<PlannedTasks>());
  return v;
}

namespace {
std::vector<CheckResult> Run(
    const std::function<bool(const std::function<void(const EventView&)>&)>& feed,
    const std::function<void(const EventView&)>& also) {
  auto checkers = StandardCheckers();
  std::vector<std::string> failed(checkers.size());
  bool read = feed([&](const EventView& e) {
    for (size_t k = 0; k < checkers.size(); ++k) {
      if (!failed[k].empty()) continue;
      try {
        checkers[k]->Observe(e);
      } catch (const std::exception& ex) {
        failed[k] = ex.what();
      }
    }
    if (also) also(e);
  });
  std::vector<CheckResult> results;
  if (!read) return results;
  for (size_t k = 0; k < checkers.size(); ++k) {
    CheckResult r;
    if (failed[k].empty()) {
      try {
        r = checkers[k]->Finish();
      } catch (const std::exception& ex) {
        failed[k] = ex.what();
      }
    }
    if (!failed[k].empty()) {
      r = CheckResult();
      r.checker = checkers[k]->name();
      r.valid = Validity::kUnknown;
      r.error = failed[k];
    }
    results.push_back(std::move(r));
  }
  return results;
}
}  // namespace

std::vector<CheckResult> CheckHistoryFile(const std::string& path, std::string* error,
                                          const std::function<void(const EventView&)>& also) {
  return Run([&](const auto& fn) { return ReadEvents(path, fn, error); }, also);
}

std::vector<CheckResult> CheckHistory(const std::function<size_t(char*, size_t)>& read,
                                      const std::string& name, std::string* error,
                                      const std::function<void(const EventView&)>& also) {
  return Run([&](const auto& fn) { return ReadEvents(read, name, fn, error); }, also);
}

std::vector<CheckResult> CheckEvents(const std::vector<Event>& events) {
  std::string error;
  auto results = Run([&](const auto& fn) { return ReadEvents(events, fn, &error); }, nullptr);
  if (results.empty()) {  // an event that does not decode: every checker is unknown
    for (const auto& c : StandardCheckers()) {
      CheckResult r;
      r.checker = c->name();
      r.valid = Validity::kUnknown;
      r.error = error;
      results.push_back(std::move(r));
    }
  }
  return results;
}

void RootCauseCollector::Observe(const EventView& e) {
  if (e.type != EventType::kFinal || !e.error.empty() || e.blocked_by.empty()) return;
  const std::string root(e.blocked_by);
  auto [it, fresh] = index_.emplace(root, out_.size());
  if (fresh) out_.push_back(RootCause{root, 0, {}});
  RootCause& r = out_[it->second];
  ++r.blocked;
  if (r.examples.size() < 3) r.examples.emplace_back(e.task);
}

std::vector<RootCause> RootCauses(const std::string& history_path, std::string* error) {
  RootCauseCollector c;
  if (!ReadEventsInto(history_path, &c, error)) return {};
  return c.Take();
}

Validity Compose(const std::vector<CheckResult>& results) {
  Validity v = Validity::kValid;
  for (const auto& r : results) {
    if (r.valid == Validity::kInvalid) return Validity::kInvalid;
    if (r.valid == Validity::kUnknown) v = Validity::kUnknown;
  }
  return v;
}

}  // namespace ithappens::harness
