// The standard checkers. Each keeps per-task state only (memory O(tasks)) and reads each
// event once. The events they rely on (harness/event.h):
//   plan   task, value {expect: completed|failed|blocked, root?, deps:[..],
//   effects:[{step,to,channel}]} create invoke/ok(value.task_id)/fail/info by a client
//   report-completed invoke/ok/fail/info by a worker, value {run}
//   effect value {key, step, run, channel, to, delivered}
//   fault  any nemesis fault (start/stop)
//   final  task, value {state, blocked_by, runs:[{state, reason_created, reason_resolved,
//          worker, started_ms, resolved_ms}]}, or error "not found"
#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "harness/checker.h"
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

void Flag(CheckResult* r, std::string task, std::vector<int64_t> events, std::string why) {
  r->valid = Validity::kInvalid;
  if (r->counterexamples.size() < kMaxCounterexamples) {
    r->counterexamples.push_back(
        Counterexample{std::move(task), std::move(events), std::move(why)});
  }
}

bool IsTerminal(const std::string& s) {
  return s == "completed" || s == "failed" || s == "exception";
}

// Every acknowledged create must still exist at the end.
class NoLost final : public Checker {
 public:
  std::string name() const override { return "no-lost"; }
  void Observe(const Event& e) override {
    if (e.type == EventType::kOk && e.f == "create") acked_[e.task] = e.i;
    if (e.type == EventType::kFinal) {
      auto it = acked_.find(e.task);
      if (it == acked_.end()) return;
      ++checked_;
      if (!e.error.empty()) {
        Flag(&r_, e.task, {it->second, e.i},
             "acknowledged create, then the task is gone: " + e.error);
        ++lost_;
      }
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"acknowledged", acked_.size()}, {"checked", checked_}, {"lost", lost_}};
    return r_;
  }

 private:
  std::unordered_map<std::string, int64_t> acked_;
  int64_t checked_ = 0, lost_ = 0;
  CheckResult r_;
};

// A retried create must not make a second task.
class NoDuplicateTasks final : public Checker {
 public:
  std::string name() const override { return "no-duplicate-tasks"; }
  void Observe(const Event& e) override {
    if (e.type != EventType::kOk || e.f != "create" || !e.value.is_object()) return;
    std::string got = e.value.value("task_id", e.task);
    auto& seen = ids_[e.task];
    seen.insert(got);
    events_[e.task].push_back(e.i);
    if (got != e.task && !foreign_.count(e.task)) {
      // The platform answered with an id of its own: a create retried after a lost answer
      // makes a second task, and the client cannot tell.
      foreign_.insert(e.task);
      Flag(&r_, e.task, {e.i},
           "the platform ignored the client's task id (answered " + got +
               "): creates are not idempotent");
    }
    if (seen.size() == 2) {
      ++dups_;
      Flag(&r_, e.task, events_[e.task],
           "one logical task was created as " + std::to_string(seen.size()) +
               " platform tasks (the create was not idempotent)");
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"tasks", ids_.size()}, {"duplicated", dups_}, {"foreign_ids", foreign_.size()}};
    return r_;
  }

 private:
  std::unordered_map<std::string, std::set<std::string>> ids_;
  std::unordered_map<std::string, std::vector<int64_t>> events_;
  std::unordered_set<std::string> foreign_;
  int64_t dups_ = 0;
  CheckResult r_;
};

// At most one delivery per (task, step), and per recipient no more than planned.
class NoDuplicateEffects final : public Checker {
 public:
  std::string name() const override { return "no-duplicate-effects"; }
  void Observe(const Event& e) override {
    if (e.type == EventType::kPlan && e.value.contains("effects")) {
      for (const auto& fx : e.value["effects"]) planned_[Recipient(fx)]++;
    }
    if (e.type != EventType::kEffect || !e.value.value("delivered", false)) return;
    ++delivered_;
    std::string step = e.task + "/" + std::to_string(e.value.value("step", -1));
    auto& evs = per_step_[step];
    evs.push_back(e.i);
    if (evs.size() == 2) Flag(&r_, e.task, evs, "step " + step + " notified its recipient twice");
    int64_t n = ++per_recipient_[Recipient(e.value)];
    if (n == planned_[Recipient(e.value)] + 1) {
      Flag(&r_, e.task, {e.i},
           Recipient(e.value) + " got more notifications than planned (" + std::to_string(n) + ")");
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"delivered", delivered_}, {"steps", per_step_.size()}};
    return r_;
  }

 private:
  static std::string Recipient(const json& v) {
    return v.value("channel", std::string()) + ":" + v.value("to", std::string());
  }
  std::unordered_map<std::string, int64_t> planned_, per_recipient_;
  std::unordered_map<std::string, std::vector<int64_t>> per_step_;
  int64_t delivered_ = 0;
  CheckResult r_;
};

// Notifications escalate in program order (email -> SMS -> call): a task's deliveries
// must come in increasing step order.
class EffectOrder final : public Checker {
 public:
  std::string name() const override { return "effect-order"; }
  void Observe(const Event& e) override {
    if (e.type != EventType::kEffect || !e.value.value("delivered", false)) return;
    int64_t step = e.value.value("step", int64_t{-1});
    auto [it, fresh] = last_.emplace(e.task, std::make_pair(step, e.i));
    if (!fresh) {
      if (step <= it->second.first) {
        Flag(&r_, e.task, {it->second.second, e.i},
             "step " + std::to_string(step) + " was delivered after step " +
                 std::to_string(it->second.first));
      }
      it->second = {step, e.i};
    }
    ++checked_;
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"deliveries", checked_}};
    return r_;
  }

 private:
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> last_;
  int64_t checked_ = 0;
  CheckResult r_;
};

// A task completes once: one accepted completion report, one completed run.
class SingleCompletion final : public Checker {
 public:
  std::string name() const override { return "single-completion"; }
  void Observe(const Event& e) override {
    if (e.type == EventType::kOk && e.f == "report-completed") {
      auto& runs = accepted_[e.task];
      runs.insert(e.value.is_object() ? e.value.value("run", -1) : -1);
      events_[e.task].push_back(e.i);
      if (runs.size() == 2)
        Flag(&r_, e.task, events_[e.task], "two runs' completions were accepted");
    }
    if (e.type == EventType::kFinal && e.value.contains("runs")) {
      int completed = 0;
      for (const auto& r : e.value["runs"]) completed += r.value("state", "") == "completed";
      if (completed > 1 && accepted_[e.task].size() < 2) {
        Flag(&r_, e.task, {e.i}, std::to_string(completed) + " runs completed");
      }
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"tasks_completed", accepted_.size()}};
    return r_;
  }

 private:
  std::unordered_map<std::string, std::set<int64_t>> accepted_;
  std::unordered_map<std::string, std::vector<int64_t>> events_;
  CheckResult r_;
};

// DESIGN.md's attribution table, judged against the plan (the ground truth).
class Attribution final : public Checker {
 public:
  std::string name() const override { return "attribution"; }
  void Observe(const Event& e) override {
    if (e.type == EventType::kFault) ++faults_;
    if (e.type == EventType::kPlan)
      plan_[e.task] = {e.value.value("expect", ""), e.value.value("root", ""), e.i};
    if (e.type != EventType::kFinal || !e.error.empty()) return;
    auto p = plan_.find(e.task);
    if (p == plan_.end()) return;
    const auto& [expect, root, plan_i] = p->second;
    const json& runs = e.value.value("runs", json::array());
    std::string state = e.value.value("state", "");
    ++judged_;
    for (size_t k = 0; k < runs.size(); ++k) {
      std::string rs = runs[k].value("state", "");
      std::string reason = runs[k].value("reason_resolved", "");
      if (rs == "failed" && expect != "failed") {
        Flag(&r_, e.task, {plan_i, e.i},
             "run " + std::to_string(k) +
                 " is failed, but the program succeeds: the user is blamed "
                 "for a platform fault");
      }
      if (rs == "failed" && k + 1 < runs.size()) {
        std::string next = runs[k + 1].value("reason_created", "");
        if (next == "retry" || next == "task-retry") {
          Flag(&r_, e.task, {plan_i, e.i},
               "a user failure (run " + std::to_string(k) + ") was retried");
        }
      }
      bool platform = reason == "claim-expired" || reason == "worker-shutdown";
      if (rs == "exception" && platform && faults_ == 0) {
        Flag(&r_, e.task, {e.i}, "exception/" + reason + " although no fault was injected");
      }
    }
    if (expect == "completed" && state == "failed") ++misattributed_;
    if (expect == "failed" && state == "completed") {
      Flag(&r_, e.task, {plan_i, e.i}, "the program fails, but the task completed");
    }
    if (expect == "blocked" && state == "unscheduled") {
      std::string by = e.value.value("blocked_by", "");
      if (by != root) {
        Flag(&r_, e.task, {plan_i, e.i},
             "blocked by '" + by + "', but the root cause is '" + root + "'");
      }
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {
        {"judged", judged_}, {"faults", faults_}, {"failed_although_succeeding", misattributed_}};
    return r_;
  }

 private:
  struct Plan {
    std::string expect, root;
    int64_t i;
  };
  std::unordered_map<std::string, Plan> plan_;
  int64_t faults_ = 0, judged_ = 0, misattributed_ = 0;
  CheckResult r_;
};

// No dependent starts before its dependencies completed.
class DependencyOrder final : public Checker {
 public:
  std::string name() const override { return "dependency-order"; }
  void Observe(const Event& e) override {
    if (e.type == EventType::kPlan && e.value.contains("deps") && !e.value["deps"].empty()) {
      deps_.emplace_back(e.task, e.value["deps"].get<std::vector<std::string>>());
    }
    if (e.type != EventType::kFinal || !e.error.empty()) return;
    const json& runs = e.value.value("runs", json::array());
    int64_t done = -1, first_start = -1;
    for (const auto& r : runs) {
      if (r.value("state", "") == "completed" && done < 0)
        done = r.value("resolved_ms", int64_t{-1});
      int64_t s = r.value("started_ms", int64_t{0});
      if (s > 0 && (first_start < 0 || s < first_start)) first_start = s;
    }
    completed_at_[e.task] = done;
    started_at_[e.task] = {first_start, e.i};
  }
  CheckResult Finish() override {
    r_.checker = name();
    int64_t edges = 0;
    for (const auto& [task, deps] : deps_) {
      auto s = started_at_.find(task);
      if (s == started_at_.end() || s->second.first < 0) continue;
      for (const auto& d : deps) {
        ++edges;
        auto c = completed_at_.find(d);
        if (c == completed_at_.end() || c->second < 0 || c->second > s->second.first) {
          Flag(&r_, task, {s->second.second}, "started before its dependency " + d + " completed");
        }
      }
    }
    r_.counts = {{"edges", edges}};
    return r_;
  }

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> deps_;  // plan order
  std::unordered_map<std::string, int64_t> completed_at_;
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> started_at_;
  CheckResult r_;
};

// Deadlines hold: no run completes after its task's deadline, and no task is still
// unresolved past it (the platform must resolve it as exception/deadline-exceeded).
class Deadline final : public Checker {
 public:
  std::string name() const override { return "deadline"; }
  void Observe(const Event& e) override {
    if (e.type != EventType::kFinal || !e.error.empty() || !e.value.contains("deadline_ms")) return;
    const int64_t deadline = e.value["deadline_ms"].get<int64_t>();
    const int64_t now_ms = e.t_ns / 1'000'000;
    ++checked_;
    for (const auto& r : e.value.value("runs", json::array())) {
      if (r.value("state", "") == "completed" && r.value("resolved_ms", int64_t{0}) > deadline) {
        Flag(&r_, e.task, {e.i}, "a run completed after the task's deadline");
      }
    }
    if (!IsTerminal(e.value.value("state", "")) && now_ms > deadline) {
      Flag(&r_, e.task, {e.i},
           "still " + e.value.value("state", std::string()) + " " +
               std::to_string(now_ms - deadline) + " ms past its deadline");
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

// After the heal phase every planned task that exists is terminal (or blocked by a failed
// root): the acknowledged ones, those whose create's answer was lost but which were made,
// and those a hook fired.
class Liveness final : public Checker {
 public:
  std::string name() const override { return "liveness"; }
  void Observe(const Event& e) override {
    if (e.type == EventType::kPlan && e.f == "task") expect_[e.task] = e.value.value("expect", "");
    if (e.type != EventType::kFinal || !e.error.empty() || !expect_.count(e.task)) return;
    std::string state = e.value.value("state", "");
    bool blocked = state == "unscheduled" && !e.value.value("blocked_by", "").empty();
    if (IsTerminal(state) || (blocked && expect_[e.task] == "blocked")) {
      ++terminal_;
    } else {
      Flag(&r_, e.task, {e.i}, "still " + state + " after the heal phase");
      ++stuck_;
    }
  }
  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"terminal", terminal_}, {"stuck", stuck_}};
    return r_;
  }

 private:
  std::unordered_map<std::string, std::string> expect_;
  int64_t terminal_ = 0, stuck_ = 0;
  CheckResult r_;
};

// Hooks fire as scheduled, without catch-up: a fire time is owed when the hook existed
// from it to the next schedule time (created before, removal not yet asked for) and in
// between the engine was undisturbed (up, its disk and clock sound) for kMinUpMs, so a
// tick had to fire it. An owed fire whose task does not exist at the end is missing; a
// task fired after the removal was acknowledged should not exist.
class HookFires final : public Checker {
 public:
  static constexpr int64_t kMinUpMs = 1'000;
  std::string name() const override { return "hook-fires"; }
  void Observe(const Event& e) override {
    const int64_t now_ms = e.t_ns / 1'000'000;
    if (e.type == EventType::kPlan && e.f == "hook") {
      Hook& h = hooks_[e.value.at("hook").get<std::string>()];
      h.plan_i = e.i;
      h.next_ms = e.value.value("next_ms", int64_t{0});
      for (const auto& f : e.value.at("fires")) {
        fire_of_[f.at("task").get<std::string>()] = {&h, h.fires.size()};
        h.fires.push_back(Fire{f.at("at_ms").get<int64_t>(), false, -1});
      }
      order_.push_back(&h);
      return;
    }
    if (e.f == "create-hook" || e.f == "remove-hook") {
      auto it = hooks_.find(e.value.is_object() ? e.value.value("hook", "") : "");
      if (it == hooks_.end()) return;
      Hook& h = it->second;
      if (e.f == "create-hook" && e.type == EventType::kOk && h.created_ms < 0)
        h.created_ms = now_ms;
      if (e.f == "remove-hook" && e.type == EventType::kInvoke && h.removing_ms < 0)
        h.removing_ms = now_ms;
      if (e.f == "remove-hook" && e.type == EventType::kOk && h.removed_ms < 0)
        h.removed_ms = now_ms;
      return;
    }
    if (e.type == EventType::kFault) Disturb(e, now_ms);
    if (e.type == EventType::kFinal && e.error.empty()) {
      auto it = fire_of_.find(e.task);
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
        if (f.exists && h->removed_ms >= 0 && f.at_ms > h->removed_ms) {
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
  void Disturb(const Event& e, int64_t now_ms) {
    static const std::set<std::string> kinds = {"engine-crash", "fsync-error", "write-error",
                                                "clock-jump"};
    const size_t dash = e.f.rfind('-');
    if (dash == std::string::npos) return;
    const std::string kind = e.f.substr(0, dash), edge = e.f.substr(dash + 1);
    if (!kinds.count(kind)) return;
    if (edge == "start") {
      open_.emplace(kind, now_ms);
    } else if (edge == "stop") {
      auto it = open_.find(kind);
      if (it == open_.end()) return;
      int64_t end = now_ms;
      if (kind == "clock-jump" && e.value.is_object()) end += e.value.value("duration_ms", 0);
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
  return v;
}

namespace {
std::vector<CheckResult> Run(
    const std::function<bool(const std::function<void(const Event&)>&)>& feed, std::string* error) {
  auto checkers = StandardCheckers();
  std::vector<std::string> failed(checkers.size());
  bool read = feed([&](const Event& e) {
    for (size_t k = 0; k < checkers.size(); ++k) {
      if (!failed[k].empty()) continue;
      try {
        checkers[k]->Observe(e);
      } catch (const std::exception& ex) {
        failed[k] = ex.what();
      }
    }
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
  (void)error;
  return results;
}
}  // namespace

std::vector<CheckResult> CheckHistoryFile(const std::string& path, std::string* error) {
  return Run([&](const auto& fn) { return ReadHistory(path, fn, error); }, error);
}

std::vector<CheckResult> CheckEvents(const std::vector<Event>& events) {
  std::string unused;
  return Run(
      [&](const auto& fn) {
        for (const auto& e : events) fn(e);
        return true;
      },
      &unused);
}

std::vector<RootCause> RootCauses(const std::string& history_path, std::string* error) {
  std::vector<RootCause> out;
  std::unordered_map<std::string, size_t> index;
  bool ok = ReadHistory(
      history_path,
      [&](const Event& e) {
        if (e.type != EventType::kFinal || !e.error.empty()) return;
        std::string root = e.value.value("blocked_by", "");
        if (root.empty()) return;
        auto [it, fresh] = index.emplace(root, out.size());
        if (fresh) out.push_back(RootCause{root, 0, {}});
        RootCause& r = out[it->second];
        ++r.blocked;
        if (r.examples.size() < 3) r.examples.push_back(e.task);
      },
      error);
  if (!ok) out.clear();
  return out;
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
