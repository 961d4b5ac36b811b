// task-model: every task's operations replayed through the queue's rules (DESIGN.md, "The
// reference engine"), so that a platform is judged on each acknowledged answer, not only
// on where its tasks end. A task is a key (Porcupine's split): the state kept per task is
// what the history proves about it, so the check is one pass, linear in the history and
// bounded by tasks x runs. An `info` answer (outcome unknown) is taken either way: it may
// have taken effect, or not, and no rule counts on either.
//
// The rules, each flagged with the events that show it:
//   create   an OK to a definition other than the stored one; an identical re-create
//            refused (creates are idempotent however late they come); a bound probe
//            answered against its bound (at the bound: accepted; past it: refused)
//   claim    more runs than asked for; a task nobody created; a run handed out twice; a
//            new run while the previous run's lease still lived (no report, no cancel);
//            a task whose cancel was acknowledged and which nobody reran; a lease other
//            than the claim timeout; a worse-ranked task handed out while a better one
//            was certainly pending (priority, then age: claim_order.h)
//   reclaim  acknowledged for a run the worker does not hold, or that had ended, or sent
//            more than kReaperSlackMs after its known lease ran out; a lease other than
//            the claim timeout
//   report   acknowledged from a worker that does not hold the run; for a run that had
//            ended (a later run existed, or a cancel was acknowledged, or its known lease
//            ran out more than kReaperSlackMs before it was sent, no reclaim of unknown
//            outcome since) unless it repeats a report sent before; a second, different
//            outcome for one run; the repeat of an acknowledged report refused (reports
//            are idempotent)
//   final    every run's creation has its cause (scheduled, retry after claim-expired or
//            worker-shutdown, task-retry after intermittent-task, a rerun someone asked
//            for); no more automatic retries than the definition allows; a retryable
//            exception with retries left is followed by its retry; every outcome has its
//            cause (a report of that run, a cancel, the deadline, an expired lease that a
//            fault explains or that its holder did not renew in time: it sent no reclaim
//            between the call that set its last lease and the last quarter of that lease —
//            a starved worker in real mode), on time (not before the lease or deadline, nor more than
//            kReaperSlackMs after it with the platform sound); every acknowledged report
//            took effect; a canceled task is resolved; no rerun acknowledged while the
//            task had no run; every run handed out is in the final status, with its worker.
// After a clock jump no rule compares the platform's times (they are out of order).
//
// The events it reads (harness/event.h): plan f "target" {claim_timeout_ms} and f "task"
// {retries, deps}; create invoke {digest, retries, priority, probe?, bound?} and its
// answer; claim invoke {n} and ok {runs [{task, run, taken_until_ms}]}; reclaim ok {run,
// taken_until_ms}; report-* invoke and answers {run, reason?}; cancel, rerun; fault events;
// final {state, deadline_ms, runs}.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/checker.h"
#include "harness/checkers/checker_util.h"
#include "harness/checkers/claim_order.h"

namespace ithappens::harness {
namespace {

using checkers::Flag;
using checkers::Slot;

// A run's outcome: completed, failed, or exception with its reason.
enum Outcome : uint8_t {
  kNoOutcome,
  kCompleted,
  kFailed,
  kWorkerShutdown,
  kMalformedPayload,
  kResourceUnavailable,
  kInternalError,
  kIntermittentTask,
  kClaimExpired,
  kDeadlineExceeded,
  kCanceled,
  kUnknownOutcome,
};
constexpr std::string_view kOutcomeNames[] = {
    "unresolved",
    "completed",
    "failed",
    "exception/worker-shutdown",
    "exception/malformed-payload",
    "exception/resource-unavailable",
    "exception/internal-error",
    "exception/intermittent-task",
    "exception/claim-expired",
    "exception/deadline-exceeded",
    "exception/canceled",
    "an unknown outcome",
};
std::string Name(Outcome o) { return std::string(kOutcomeNames[o]); }

Outcome ExceptionOutcome(std::string_view reason) {
  for (int o = kWorkerShutdown; o <= kCanceled; ++o)
    if (kOutcomeNames[o].substr(10) == reason) return static_cast<Outcome>(o);
  return kUnknownOutcome;
}

// A final run's outcome (kNoOutcome while pending or running).
Outcome RunOutcome(const RunFacts& r) {
  if (r.state == "pending" || r.state == "running") return kNoOutcome;
  if (r.state == "completed") return kCompleted;
  if (r.state == "failed") return kFailed;
  if (r.state == "exception") return ExceptionOutcome(r.reason_resolved);
  return kUnknownOutcome;
}

// What a report call asks for.
Outcome ReportOutcome(const EventView& e) {
  if (e.call == Call::kReportCompleted) return kCompleted;
  if (e.call == Call::kReportFailed) return kFailed;
  return ExceptionOutcome(e.reason);
}

bool Retryable(Outcome o) {
  return o == kClaimExpired || o == kWorkerShutdown || o == kIntermittentTask;
}

enum CallStatus : uint8_t { kOpen, kAcked, kUnknown, kRefused };

// The calls on a task, as small codes (an invoke and its answer have the same).
uint8_t CallOf(Call c) {
  static constexpr Call kCalls[] = {Call::kCreate,       Call::kReclaim,         Call::kReportCompleted,
                                    Call::kReportFailed, Call::kReportException, Call::kCancel,
                                    Call::kRerun};
  for (uint8_t k = 0; k < 7; ++k)
    if (kCalls[k] == c) return k;
  return 255;
}

// A definition digest (16 hex digits); another text is hashed.
uint64_t Digest(std::string_view hex) {
  uint64_t v = 0;
  for (char c : hex) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0 || hex.size() > 16) return std::hash<std::string_view>()(hex);
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}
std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

constexpr uint32_t kNobody = UINT32_MAX;
constexpr int64_t kNever = INT64_MAX;
constexpr int64_t kUnknownLease = INT64_MIN;
constexpr size_t kMaxRunsPerTask = 50;  // a run id past this is not kept
constexpr int64_t kInFlightMs = 1'000;  // how long before a run began a fault still counts
// How late the platform may resolve an expired lease or a passed deadline: its reaper runs
// at least this often while it is up and its disk and clock are sound.
constexpr int64_t kReaperSlackMs = 2'000;

// Taskcluster's priority levels in the order the queue serves them ("normal", the legacy
// name, after "lowest", as the reference engine keeps it); -1 for an unknown name.
int PriorityLevel(std::string_view p) {
  static constexpr std::string_view kLevels[] = {"highest", "very-high", "high",   "medium",
                                                 "low",     "very-low",  "lowest", "normal"};
  for (int k = 0; k < 8; ++k)
    if (kLevels[k] == p) return k;
  return -1;
}

class TaskModel final : public Checker {
 public:
  std::string name() const override { return "task-model"; }

  void Observe(const EventView& e) override {
    const int64_t now = e.t_ns / 1'000'000;
    switch (e.type) {
      case EventType::kPlan:
        return Plan(e);
      case EventType::kFault:
        return Fault(e, now);
      case EventType::kFinal:
        return Final(e);
      case EventType::kEffect:
        return;
      default:
        break;
    }
    if (e.call == Call::kClaim) return Claim(e, now);
    if (e.task_ix == kNoTask) return;
    if (e.type == EventType::kInvoke) return Invoke(e, now);
    Completion(e, now);
  }

  CheckResult Finish() override {
    r_.checker = name();
    r_.counts = {{"tasks", tasks_modeled_},
                 {"creates", creates_},
                 {"claims", runs_claimed_},
                 {"reports", reports_},
                 {"finals", finals_},
                 {"conflicts_refused", conflicts_refused_},
                 {"late_refused", late_refused_},
                 {"bound_probes", probes_}};
    return r_;
  }

 private:
  struct Report {
    Outcome outcome;
    CallStatus status;
    uint32_t proc;
    int64_t invoke_t, invoke_i, done_t, done_i;
  };
  struct Run {
    uint32_t holder = kNobody;
    int64_t claim_i = -1, claim_t = -1;
    int64_t lease_until_ms = kUnknownLease, lease_i = -1;
    bool lease_uncertain = false;            // a reclaim's answer was lost after the last lease
    int64_t lease_set_t = -1;                // the send time of the call that set that lease
    int64_t renew_sent_t = -1;               // the holder's latest reclaim, sent (any answer)
    int64_t ended_t = kNever, ended_i = -1;  // by then the run had certainly ended
    const char* ended_why = "";
    std::vector<Report> reports;
  };
  // An invoke waiting for its answer.
  struct Open {
    uint32_t proc;
    uint8_t f;  // CallOf(f)
    int64_t run, t, i;
    uint64_t digest;    // create
    int64_t retries;    // create
    int priority;       // create
    size_t report;      // report-*: index into the run's reports
    int8_t probe = 0;         // create: a bound probe (must be 1 accepted, -1 refused), or 0
    uint32_t bound = kNoBound;  // create: the bound a probe probes (in bounds_)
  };
  // A task's candidate definitions: almost always one, kept inline (no allocation per task).
  class Digests {
   public:
    size_t size() const { return n_; }
    uint64_t front() const { return first_; }
    bool Contains(uint64_t d) const {
      return (n_ > 0 && first_ == d) || std::find(more_.begin(), more_.end(), d) != more_.end();
    }
    void Add(uint64_t d) {
      if (n_ == 0) {
        first_ = d;
      } else {
        more_.push_back(d);
      }
      ++n_;
    }
    void Only(uint64_t d) {
      first_ = d;
      n_ = 1;
      more_.clear();
    }

   private:
    uint64_t first_ = 0;
    size_t n_ = 0;
    std::vector<uint64_t> more_;
  };
  struct Task {
    bool known = false;
    bool maybe_absent = true;       // no create of it was acknowledged yet
    Digests digests;  // the definitions it may have been stored with
    int64_t retries = -1, plan_retries = -1;
    std::vector<Run> runs;
    std::vector<Open> open;
    int64_t cancel_invoke_t = kNever, cancel_ok_t = kNever, cancel_ok_i = -1;
    int64_t cancel_ok_invoke_t = kNever;           // the invoke time of the acknowledged cancel
    int64_t rerun_invoke_t = -1;                   // the latest rerun sent
    int64_t rerun_ok_t = kNever, rerun_ok_i = -1;  // the first rerun acknowledged
    // For claim order: the stored definition's priority level, the first create sent and
    // the first acknowledged, and whether the plan gives it no dependencies.
    int priority = -1;
    int64_t first_create_t = kNever, acked_t = kNever;
    bool no_deps = false;
  };
  struct Window {
    std::string kind, target;
    int64_t start_ms, end_ms, i;
    std::optional<FaultKindId> id;  // nullopt: a kind this harness does not know
  };

  Task& TaskOf(const EventView& e) { return TaskAt(e.task_ix); }
  Task& TaskAt(uint32_t ix) { return Slot(tasks_, ix); }
  Run* RunOf(Task& t, int64_t run) {
    if (run < 0 || run >= static_cast<int64_t>(kMaxRunsPerTask)) return nullptr;
    if (t.runs.size() <= static_cast<size_t>(run)) t.runs.resize(static_cast<size_t>(run) + 1);
    return &t.runs[static_cast<size_t>(run)];
  }
  static constexpr uint32_t kNoBound = UINT32_MAX;
  std::string Bound(const Open& o) const { return o.bound == kNoBound ? "" : bounds_[o.bound]; }
  // The reader interns process names: the index is the caller's, its name kept for messages.
  uint32_t Proc(const EventView& e) {
    if (e.proc_ix == kNoTask)
      throw std::logic_error("an event whose process the reader did not intern");
    if (e.proc_ix >= proc_names_.size()) proc_names_.resize(e.proc_ix + 1);
    std::string& name = proc_names_[e.proc_ix];
    if (name.empty()) name = e.proc;
    return e.proc_ix;
  }
  std::string ProcName(uint32_t ix) const {
    return ix < proc_names_.size() ? proc_names_[ix] : "nobody";
  }

  void Plan(const EventView& e) {
    if (e.call == Call::kTarget && e.claim_timeout_ms > 0) claim_timeout_ms_ = e.claim_timeout_ms;
    // A real run at a high time scale says how late its platform's clockwork may be in run
    // time (a wall tick and a loaded machine's scheduling, times K): never less than ours.
    if (e.call == Call::kTarget && e.timing_slack_ms > 0)
      reaper_slack_ms_ = std::max(kReaperSlackMs, e.timing_slack_ms);
    if (e.call == Call::kHook) hooks_ = true;
    if (e.call != Call::kTask || e.task_ix == kNoTask) return;
    Task& t = TaskOf(e);
    if (!t.known) ++tasks_modeled_;
    t.known = true;
    t.plan_retries = e.retries;
    t.no_deps = e.deps.empty();
  }

  // Fault windows, for explaining expired leases. A fault event that is not one edge of a
  // window (worker-oom, sink-oom) is an instant.
  void Fault(const EventView& e, int64_t now) {
    std::string_view kind;
    bool start = false;
    const std::string target(e.target);
    if (!ParseFaultEdge(e.f, &kind, &start)) {
      windows_.push_back(Window{std::string(e.f), target, now, now, e.i, ParseFaultKind(e.f)});
      return;
    }
    int64_t slack = 0;
    const std::optional<FaultKindId> id = ParseFaultKind(kind);
    if (id == FaultKindId::kClockJump) {
      slack = std::abs(std::max<int64_t>(e.duration_ms, 0));
      clock_jumped_ = true;
    }
    if (start) {
      open_windows_.emplace(std::string(kind) + "\n" + target, windows_.size());
      windows_.push_back(Window{std::string(kind), target, now - slack, kNever, e.i, id});
      return;
    }
    auto it = open_windows_.find(std::string(kind) + "\n" + target);
    if (it == open_windows_.end()) return;
    windows_[it->second].end_ms = now + slack;
    open_windows_.erase(it);
  }

  // A fault that can make worker w lose a lease between from_ms and to_ms: one aimed at
  // the worker (or all), or one that takes the engine's service down or moves its clock.
  const Window* Explains(std::string_view worker, int64_t from_ms, int64_t to_ms) const {
    for (const Window& w : windows_) {
      if (w.start_ms > to_ms || w.end_ms < from_ms || !w.id) continue;
      if (IsEngineWide(*w.id)) return &w;
      if (IsWorkerFault(*w.id) && (w.target == worker || w.target == "all")) return &w;
    }
    return nullptr;
  }

  // A fault that stops the platform's own clockwork (down, failing its disk, clock moved)
  // between from_ms and to_ms.
  const Window* EngineDisturbed(int64_t from_ms, int64_t to_ms) const {
    for (const Window& w : windows_) {
      if (w.start_ms > to_ms || w.end_ms < from_ms) continue;
      if (w.id && IsEngineWide(*w.id)) return &w;
    }
    return nullptr;
  }

  void Invoke(const EventView& e, int64_t now) {
    Task& t = TaskOf(e);
    if (!t.known && e.call == Call::kCreate) ++tasks_modeled_;
    if (e.call == Call::kCreate) t.known = true;
    Open o{Proc(e),   CallOf(e.call),
           e.run,     now,
           e.i,       Digest(e.digest),
           e.retries, PriorityLevel(e.priority),
           0,         0,
           kNoBound};
    if (!e.probe.empty()) {
      o.probe = e.probe == "accept" ? 1 : e.probe == "refuse" ? -1 : 0;
      o.bound = static_cast<uint32_t>(bounds_.size());
      bounds_.emplace_back(e.bound);
    }
    if (e.call == Call::kCreate) t.first_create_t = std::min(t.first_create_t, now);
    if (IsReport(e.call, e.f)) {
      if (Run* run = RunOf(t, e.run)) {
        o.report = run->reports.size();
        run->reports.push_back(Report{ReportOutcome(e), kOpen, o.proc, now, e.i, kNever, -1});
      }
    }
    if (e.call == Call::kCancel) t.cancel_invoke_t = std::min(t.cancel_invoke_t, now);
    if (e.call == Call::kRerun) t.rerun_invoke_t = now;
    t.open.push_back(std::move(o));
  }

  // The invoke this answer belongs to: the same caller, call and run.
  bool TakeOpen(Task& t, const EventView& e, Open* out) {
    const uint32_t proc = Proc(e);
    for (size_t k = 0; k < t.open.size(); ++k) {
      const Open& o = t.open[k];
      if (o.proc != proc || o.f != CallOf(e.call) || (e.run >= 0 && o.run != e.run)) continue;
      *out = std::move(t.open[k]);
      t.open.erase(t.open.begin() + static_cast<ptrdiff_t>(k));
      return true;
    }
    return false;
  }

  void Completion(const EventView& e, int64_t now) {
    Task& t = TaskOf(e);
    Open o;
    if (!TakeOpen(t, e, &o)) return;  // an answer without its invoke: nothing to judge
    if (e.call == Call::kCreate) return Create(e, t, o);
    if (e.call == Call::kCancel) {
      if (e.type == EventType::kOk && t.cancel_ok_t == kNever) {
        t.cancel_ok_t = now;
        t.cancel_ok_i = e.i;
        t.cancel_ok_invoke_t = o.t;
      }
      return;
    }
    if (e.call == Call::kRerun) {
      if (e.type == EventType::kOk && t.rerun_ok_t == kNever) {
        t.rerun_ok_t = now;
        t.rerun_ok_i = e.i;
      }
      return;
    }
    Run* run = RunOf(t, o.run);
    if (run == nullptr) return;
    if (e.call == Call::kReclaim) return Reclaim(e, t, *run, o);
    if (IsReport(e.call, e.f)) return ReportDone(e, t, *run, o, now);
  }

  static std::string Code(std::string_view error) {
    return std::string(error.substr(0, error.find(':')));
  }

  void Create(const EventView& e, Task& t, const Open& o) {
    ++creates_;
    if (o.probe != 0) ++probes_;
    if (o.probe < 0 && e.type == EventType::kOk) {
      Flag(&r_, e.task, {o.i, e.i},
           "a create past a bound was acknowledged (" + Bound(o) +
               "): it must be refused with INVALID_ARGUMENT naming the field");
    }
    if (o.probe > 0 && e.type == EventType::kFail && !clock_jumped_ &&
        EngineDisturbed(o.t, e.t_ns / 1'000'000) == nullptr) {
      Flag(&r_, e.task, {o.i, e.i},
           "a create at a bound was refused (" + Bound(o) + "): " + std::string(e.error));
    }
    const bool stored_is_this =
        !t.maybe_absent && t.digests.size() == 1 && t.digests.front() == o.digest;
    if (e.type == EventType::kOk) {
      if (!t.maybe_absent &&
          !t.digests.Contains(o.digest)) {
        Flag(&r_, e.task, {o.i, e.i},
             "a create was answered OK although its definition (digest " + Hex(o.digest) +
                 ") differs from the stored one (" + Hex(t.digests.front()) +
                 "): a changed re-create must be refused with ALREADY_EXISTS");
      }
      t.maybe_absent = false;
      t.digests.Only(o.digest);
      t.retries = o.retries;
      t.priority = o.priority;
      t.acked_t = std::min(t.acked_t, e.t_ns / 1'000'000);
      return;
    }
    if (e.type == EventType::kInfo) {
      if (t.maybe_absent &&
          !t.digests.Contains(o.digest))
        t.digests.Add(o.digest);
      return;
    }
    const std::string code = Code(e.error);
    if (code == "ALREADY_EXISTS" && !stored_is_this) ++conflicts_refused_;
    if (stored_is_this) {
      Flag(&r_, e.task, {o.i, e.i},
           "an identical re-create was refused (" + std::string(e.error) +
               "): creates are idempotent however late they come");
    }
  }

  void Claim(const EventView& e, int64_t now) {
    const uint32_t proc = Proc(e);
    if (e.type == EventType::kInvoke) {
      open_claims_[proc] = OpenClaim{e.n, now, e.i};
      return;
    }
    auto it = open_claims_.find(proc);
    if (it == open_claims_.end()) return;
    const OpenClaim claim = it->second;
    open_claims_.erase(it);
    if (e.type != EventType::kOk) return;
    if (claim.n >= 0 && static_cast<int64_t>(e.runs.size()) > claim.n) {
      Flag(&r_, "", {claim.i, e.i},
           std::string(e.proc) + " asked for " + std::to_string(claim.n) + " runs and got " +
               std::to_string(e.runs.size()));
    }
    for (const RunFacts& rf : e.runs) {
      if (rf.task_ix == kNoTask) continue;
      ++runs_claimed_;
      Task& t = TaskAt(rf.task_ix);
      const std::string_view task = rf.task;
      if (!t.known) {
        // A hook makes tasks the plan may not name: on a jumped clock, or after its
        // removal was held up by an outage (it fires until the removal lands); with hooks
        // about, an unknown task may be one of theirs (hook-fires judges the fires).
        if (!hooks_)
          Flag(&r_, task, {e.i}, "handed out a task that nobody created and no plan names");
        t.known = true;
      }
      Run* run = RunOf(t, rf.run);
      if (run == nullptr) {
        Flag(&r_, task, {e.i}, "handed out run " + std::to_string(rf.run) + ", outside 0..49");
        continue;
      }
      if (run->holder != kNobody) {
        Flag(&r_, task, {run->claim_i, e.i},
             "run " + std::to_string(rf.run) + " was handed out twice: to " +
                 ProcName(run->holder) + ", then to " + std::string(e.proc));
        continue;
      }
      run->holder = proc;
      run->claim_i = e.i;
      run->claim_t = now;
      if (rf.taken_until_ms >= 0) {
        run->lease_until_ms = rf.taken_until_ms;
        run->lease_i = e.i;
        run->lease_set_t = claim.t;
        LeaseLength(task, "claim", rf.taken_until_ms, claim.t, now, claim.i, e.i);
      }
      for (int64_t p = 0; p < rf.run; ++p) {
        Run& before = t.runs[static_cast<size_t>(p)];
        if (before.ended_t == kNever) {
          before.ended_t = now;
          before.ended_i = e.i;
          before.ended_why = "a later run was handed out";
        }
      }
      LeaseRule(e, t, rf, claim.t, now, task);
      OrderRule(e, t, rf, claim.t, task);
      if (t.cancel_ok_t < claim.t && t.rerun_invoke_t < t.cancel_ok_invoke_t) {
        Flag(&r_, task, {t.cancel_ok_i, e.i},
             "handed out run " + std::to_string(rf.run) +
                 " after the task's cancel was acknowledged (and nobody reran it)");
      }
    }
    // The claim, for judging the order of later ones: the worst-ranked task it handed out.
    checkers::ClaimOrder::Claim record{claim.t, now, e.i, checkers::ClaimOrder::kNoRank, ""};
    std::string_view worst;
    for (const RunFacts& rf : e.runs) {
      if (rf.task_ix == kNoTask || rf.task_ix >= tasks_.size()) continue;
      const Task& x = tasks_[rf.task_ix];
      if (x.priority < 0 || x.first_create_t == kNever) continue;
      const int64_t rank = checkers::ClaimOrder::Rank(x.priority, x.first_create_t);
      if (rank > record.worst_rank) {
        record.worst_rank = rank;
        worst = rf.task;
      }
    }
    record.worst_task = std::string(worst);
    order_.Add(std::move(record));
  }

  // The first run of a task with no dependencies was pending from its acknowledgement: a
  // claim answered in between that handed out a worse-ranked task broke the queue's order.
  void OrderRule(const EventView& e, const Task& y, const RunFacts& rf, int64_t claim_t,
                 std::string_view task) {
    if (rf.run != 0 || !y.no_deps || y.priority < 0 || y.acked_t == kNever || clock_jumped_) return;
    const int64_t rank = checkers::ClaimOrder::Rank(y.priority, y.acked_t);
    const checkers::ClaimOrder::Claim* c = order_.Overtaken(rank, y.acked_t, claim_t);
    if (c == nullptr) return;
    Flag(&r_, task, {c->event, e.i},
         "waited, pending since " + std::to_string(y.acked_t) + " ms, while a claim answered at " +
             std::to_string(c->ok_ms) + " ms handed out " + c->worst_task +
             ", which ranks below it (the queue serves the highest priority first, then the "
             "oldest)");
  }

  // A lease lasts the claim timeout from when the platform answered: taken_until falls
  // between the call's invoke and its answer, plus the timeout (on a clock that never
  // jumped, the platform's times are the harness's).
  void LeaseLength(std::string_view task, const char* call, int64_t taken_until_ms,
                   int64_t invoke_ms, int64_t answer_ms, int64_t invoke_i, int64_t answer_i) {
    if (claim_timeout_ms_ <= 0 || clock_jumped_) return;
    if (taken_until_ms >= invoke_ms + claim_timeout_ms_ &&
        taken_until_ms <= answer_ms + claim_timeout_ms_)
      return;
    Flag(&r_, task, {invoke_i, answer_i},
         std::string("a ") + call + " answered between " + std::to_string(invoke_ms) + " and " +
             std::to_string(answer_ms) + " ms leased the run until " +
             std::to_string(taken_until_ms) + " ms; the claim timeout is " +
             std::to_string(claim_timeout_ms_) + " ms");
  }

  // A new run is made only when the previous one ended: by a report, a cancel, or its
  // lease running out. With neither of the first two sent, the previous lease must be over
  // at the time of this claim (on the platform's clock: taken_until - claim timeout).
  void LeaseRule(const EventView& e, const Task& t, const RunFacts& rf, int64_t claim_t,
                 int64_t now, std::string_view task) {
    if (rf.run < 1 || claim_timeout_ms_ <= 0 || rf.taken_until_ms < 0) return;
    const Run& prev = t.runs[static_cast<size_t>(rf.run - 1)];
    if (prev.lease_until_ms == kUnknownLease || prev.lease_uncertain) return;
    if (clock_jumped_) return;  // the platform's times are not in order any more
    for (const Report& rep : prev.reports)
      if (rep.invoke_t <= now) return;
    if (t.cancel_invoke_t <= now || t.rerun_invoke_t >= 0) return;
    const int64_t claimed_at_ms = rf.taken_until_ms - claim_timeout_ms_;
    if (claimed_at_ms >= prev.lease_until_ms) return;
    (void)claim_t;
    Flag(&r_, task, {prev.lease_i, e.i},
         "run " + std::to_string(rf.run) + " was handed out at " + std::to_string(claimed_at_ms) +
             " ms while run " + std::to_string(rf.run - 1) + "'s lease (held by " +
             ProcName(prev.holder) + ", nothing reported) lasted until " +
             std::to_string(prev.lease_until_ms) + " ms");
  }

  // A report acknowledged at or before `before` (done, OK).
  static const Report* OkBefore(const Run& run, int64_t before) {
    for (const Report& r : run.reports)
      if (r.status == kAcked && r.done_t <= before) return &r;
    return nullptr;
  }
  // A report by proc with this outcome sent before `before`: a repeat of it is fine.
  static bool SentBefore(const Run& run, uint32_t proc, Outcome o, int64_t before,
                         const Report* self) {
    for (const Report& r : run.reports)
      if (&r != self && r.proc == proc && r.outcome == o && r.invoke_t < before) return true;
    return false;
  }

  void Reclaim(const EventView& e, const Task& t, Run& run, const Open& o) {
    if (run.holder == o.proc) run.renew_sent_t = std::max(run.renew_sent_t, o.t);
    if (e.type != EventType::kOk) {
      if (e.type == EventType::kFail) ++late_refused_;
      // It may have moved the lease: no rule counts on the lease until the next answer.
      if (e.type == EventType::kInfo) run.lease_uncertain = true;
      return;
    }
    const std::string which = "run " + std::to_string(o.run);
    if (run.holder != kNobody && run.holder != o.proc) {
      Flag(&r_, e.task, {run.claim_i, e.i},
           "a reclaim of " + which + " by " + std::string(e.proc) +
               " was acknowledged, but the run is held by " + ProcName(run.holder));
    } else if (run.ended_t < o.t) {
      Flag(&r_, e.task, {run.ended_i, e.i},
           "a reclaim of " + which + " was acknowledged after the run had ended (" + run.ended_why +
               ")");
    } else if (const Report* done = OkBefore(run, o.t)) {
      Flag(&r_, e.task, {done->done_i, e.i},
           "a reclaim of " + which + " was acknowledged after the run was resolved as " +
               Name(done->outcome));
    } else if (t.cancel_ok_t < o.t && run.claim_t >= 0 && run.claim_t < t.cancel_ok_invoke_t) {
      Flag(&r_, e.task, {t.cancel_ok_i, e.i},
           "a reclaim of " + which + " was acknowledged after the task's cancel was");
    } else if (LeaseRanOut(run, o.t)) {
      Flag(&r_, e.task, {run.lease_i, e.i},
           "a reclaim of " + which + " sent at " + std::to_string(o.t) +
               " ms was acknowledged, but the run's lease had ended at " +
               std::to_string(run.lease_until_ms) + " ms and nothing extended it (claim-expired)");
    }
    // The latest acknowledged lease is the lease (a clock that jumped back can shorten it).
    if (e.taken_until_ms >= 0) {
      LeaseLength(e.task, "reclaim", e.taken_until_ms, o.t, e.t_ns / 1'000'000, o.i, e.i);
      run.lease_until_ms = e.taken_until_ms;
      run.lease_i = e.i;
      run.lease_set_t = o.t;
      run.lease_uncertain = false;
    }
  }

  void ReportDone(const EventView& e, const Task& t, Run& run, const Open& o, int64_t now) {
    ++reports_;
    if (o.report >= run.reports.size()) return;
    Report& self = run.reports[o.report];
    self.status = e.type == EventType::kOk     ? kAcked
                  : e.type == EventType::kInfo ? kUnknown
                                               : kRefused;
    self.done_t = now;
    self.done_i = e.i;
    const std::string which = "run " + std::to_string(o.run);
    const std::string what = Name(self.outcome);
    if (e.type == EventType::kFail) {
      ++late_refused_;
      for (const Report& r : run.reports) {
        if (&r == &self || r.status != kAcked || r.proc != self.proc || r.outcome != self.outcome)
          continue;
        Flag(&r_, e.task, {r.done_i, e.i},
             "the repeat of an acknowledged report (" + what + " for " + which +
                 ") was refused: " + std::string(e.error) + " (reports are idempotent)");
        break;
      }
      return;
    }
    if (e.type != EventType::kOk) return;
    if (run.holder != kNobody && run.holder != self.proc) {
      Flag(&r_, e.task, {run.claim_i, e.i},
           "a report (" + what + ") for " + which + " from " + std::string(e.proc) +
               " was acknowledged, but the run is held by " + ProcName(run.holder));
      return;
    }
    for (const Report& r : run.reports) {
      if (r.status != kAcked || r.outcome == self.outcome) continue;
      Flag(&r_, e.task, {r.done_i, e.i},
           which + " was resolved twice: " + Name(r.outcome) + ", then " + what +
               " (both acknowledged)");
      return;
    }
    if (run.ended_t < self.invoke_t &&
        !SentBefore(run, self.proc, self.outcome, run.ended_t, &self)) {
      Flag(&r_, e.task, {run.ended_i, e.i},
           "a report (" + what + ") for " + which + " was acknowledged after the run had ended (" +
               run.ended_why + "): the run was no longer the reporter's");
      return;
    }
    if (t.cancel_ok_t < self.invoke_t && run.claim_t >= 0 && run.claim_t < t.cancel_ok_invoke_t &&
        !SentBefore(run, self.proc, self.outcome, t.cancel_ok_t, &self)) {
      Flag(&r_, e.task, {t.cancel_ok_i, e.i},
           "a report (" + what + ") for " + which +
               " was acknowledged after the task's cancel was (the cancel ended the run)");
      return;
    }
    if (LeaseRanOut(run, self.invoke_t) && !SentBefore(run, self.proc, self.outcome,
                                                       run.lease_until_ms + reaper_slack_ms_, &self)) {
      Flag(&r_, e.task, {run.lease_i, e.i},
           "a report (" + what + ") for " + which + " sent at " + std::to_string(self.invoke_t) +
               " ms was acknowledged, but the run's lease had ended at " +
               std::to_string(run.lease_until_ms) +
               " ms and nothing extended it: the run had expired (claim-expired) and was no "
               "longer the reporter's");
    }
  }

  // The run's last known lease ended more than kReaperSlackMs before sent_ms: a platform
  // that expires leases had resolved it (claim-expired) by then. Only when that lease is
  // known for sure (no reclaim of unknown outcome since) and the clock never jumped.
  bool LeaseRanOut(const Run& run, int64_t sent_ms) const {
    return run.lease_until_ms != kUnknownLease && !run.lease_uncertain && !clock_jumped_ &&
           sent_ms > run.lease_until_ms + reaper_slack_ms_;
  }

  // ------------------------------------------------------------------ the final status
  void Final(const EventView& e) {
    if (e.task_ix == kNoTask || !e.error.empty()) return;
    ++finals_;
    Task& t = TaskOf(e);
    const int64_t retries = t.retries >= 0 ? t.retries : t.plan_retries;
    int64_t automatic = 0;
    const auto& runs = e.runs;
    for (size_t k = 0; k < runs.size(); ++k) {
      const RunFacts& rk = runs[k];
      const Outcome o = RunOutcome(rk);
      const std::string which = "run " + std::to_string(k);
      Run* mine = k < t.runs.size() ? &t.runs[k] : nullptr;
      if (!Created(e, t, runs, k)) return;
      if (rk.reason_created == "retry" || rk.reason_created == "task-retry") ++automatic;
      if (o == kUnknownOutcome) {
        Flag(&r_, e.task, {e.i},
             which + " is '" + std::string(rk.state) + "/" + std::string(rk.reason_resolved) +
                 "', which the queue's rules do not have");
        return;
      }
      if (o == kNoOutcome && k + 1 < runs.size()) {
        Flag(&r_, e.task, {e.i},
             which + " is still " + std::string(rk.state) + " although a later run exists");
        return;
      }
      if (o != kNoOutcome && !Caused(e, t, rk, o, k, mine)) return;
      if (mine != nullptr) {
        for (const Report& r : mine->reports) {
          if (r.status != kAcked || r.outcome == o) continue;
          Flag(&r_, e.task, {r.done_i, e.i},
               "a report (" + Name(r.outcome) + ") for " + which +
                   " was acknowledged, but the run ended as " + Name(o));
          return;
        }
        if (mine->holder != kNobody && rk.worker != ProcName(mine->holder)) {
          Flag(&r_, e.task, {mine->claim_i, e.i},
               which + " was handed out to " + ProcName(mine->holder) +
                   ", but the final status names worker '" + std::string(rk.worker) + "'");
          return;
        }
      }
      if (Retryable(o)) {
        const int64_t left = retries - automatic;
        const bool owed = retries >= 0 && left > 0 && k + 1 < kMaxRunsPerTask;
        if (owed && k + 1 == runs.size()) {
          Flag(&r_, e.task, {e.i},
               which + " ended " + Name(o) + " with " + std::to_string(left) +
                   " retries left, and no new run was made");
          return;
        }
      }
    }
    if (retries >= 0 && automatic > retries) {
      Flag(&r_, e.task, {e.i},
           std::to_string(automatic) + " automatic retries; the definition allows " +
               std::to_string(retries));
      return;
    }
    for (size_t k = runs.size(); k < t.runs.size(); ++k) {
      if (t.runs[k].holder == kNobody) continue;
      Flag(&r_, e.task, {t.runs[k].claim_i, e.i},
           "run " + std::to_string(k) + " was handed out, but the final status has " +
               std::to_string(runs.size()) + " runs");
      return;
    }
    // Only a task that has runs can be rerun: one whose first run was made only later
    // (by a cancel or its deadline while unscheduled), or never, was unscheduled then.
    const bool first_run_later = runs.empty() || (runs[0].reason_created == "exception" &&
                                                  t.rerun_ok_t < runs[0].resolved_ms);
    if (t.rerun_ok_t != kNever && first_run_later && !clock_jumped_) {
      Flag(&r_, e.task, {t.rerun_ok_i, e.i},
           "a rerun was acknowledged while the task was unscheduled (it had no run yet): only "
           "a resolved task can be rerun");
      return;
    }
    if (t.cancel_ok_t != kNever && t.rerun_invoke_t < t.cancel_ok_invoke_t &&
        !IsTerminalState(e.state)) {
      Flag(&r_, e.task, {t.cancel_ok_i, e.i},
           "the cancel was acknowledged, but the task is still " + std::string(e.state));
    }
  }

  // Why run k exists: the rules for reasonCreated.
  bool Created(const EventView& e, const Task& t, const std::vector<RunFacts>& runs, size_t k) {
    const RunFacts& rk = runs[k];
    const std::string which = "run " + std::to_string(k);
    const std::string_view why = rk.reason_created;
    if (k == 0) {
      const Outcome o = RunOutcome(rk);
      if (why == "scheduled") return true;
      if (why == "exception" && (o == kCanceled || o == kDeadlineExceeded)) return true;
      Flag(&r_, e.task, {e.i},
           "the first run was created as '" + std::string(why) + "' and ended " + Name(o) +
               " (only 'scheduled', or 'exception' for a cancel or deadline before any run)");
      return false;
    }
    const Outcome prev = RunOutcome(runs[k - 1]);
    std::string bad;
    if (prev == kNoOutcome) {
      bad = "while run " + std::to_string(k - 1) + " was still " + std::string(runs[k - 1].state);
    } else if (why == "retry") {
      if (prev != kClaimExpired && prev != kWorkerShutdown) bad = "after " + Name(prev);
    } else if (why == "task-retry") {
      if (prev != kIntermittentTask) bad = "after " + Name(prev);
    } else if (why == "rerun") {
      if (t.rerun_invoke_t < 0) bad = "although nobody asked for a rerun";
    } else {
      bad = "(only the first run can be '" + std::string(why) + "')";
    }
    if (bad.empty()) return true;
    Flag(&r_, e.task, {e.i}, which + " was created as '" + std::string(why) + "' " + bad);
    return false;
  }

  // Why run k ended as o: a report said so, a cancel was sent, the deadline passed, or the
  // lease ran out where a fault explains it.
  bool Caused(const EventView& e, const Task& t, const RunFacts& rk, Outcome o, size_t k,
              const Run* mine) {
    const std::string which = "run " + std::to_string(k);
    if (o == kCanceled) {
      if (t.cancel_invoke_t != kNever) return true;
      Flag(&r_, e.task, {e.i}, which + " ended " + Name(o) + ", but nobody sent a cancel");
      return false;
    }
    if (o == kDeadlineExceeded) {
      if (e.has_deadline && rk.resolved_ms > e.deadline_ms + reaper_slack_ms_ && !clock_jumped_ &&
          EngineDisturbed(e.deadline_ms, rk.resolved_ms) == nullptr) {
        Flag(&r_, e.task, {e.i},
             which + " ended " + Name(o) + " at " + std::to_string(rk.resolved_ms) +
                 " ms, more than " + std::to_string(reaper_slack_ms_) + " ms after the deadline at " +
                 std::to_string(e.deadline_ms) + " ms, with the platform up and sound all along");
        return false;
      }
      if (!e.has_deadline || rk.resolved_ms >= e.deadline_ms) return true;
      Flag(&r_, e.task, {e.i},
           which + " ended " + Name(o) + " at " + std::to_string(rk.resolved_ms) +
               " ms, before the deadline at " + std::to_string(e.deadline_ms) + " ms");
      return false;
    }
    if (o == kClaimExpired) {
      if (mine != nullptr && mine->lease_until_ms != kUnknownLease && !mine->lease_uncertain &&
          !clock_jumped_ && rk.resolved_ms < mine->lease_until_ms) {
        Flag(&r_, e.task, {mine->lease_i, e.i},
             which + "'s claim expired at " + std::to_string(rk.resolved_ms) +
                 " ms, but its lease lasted until " + std::to_string(mine->lease_until_ms) + " ms");
        return false;
      }
      if (mine != nullptr && mine->lease_until_ms != kUnknownLease && !mine->lease_uncertain &&
          !clock_jumped_ && rk.resolved_ms > mine->lease_until_ms + reaper_slack_ms_ &&
          EngineDisturbed(mine->lease_until_ms, rk.resolved_ms) == nullptr) {
        Flag(&r_, e.task, {mine->lease_i, e.i},
             which + "'s claim expired at " + std::to_string(rk.resolved_ms) + " ms, more than " +
                 std::to_string(reaper_slack_ms_) + " ms after its lease ended (" +
                 std::to_string(mine->lease_until_ms) +
                 " ms), with the platform up and sound all along");
        return false;
      }
      const std::string worker(rk.worker);
      // A claim sent just before a fault window closed may reach the engine just after it.
      if (Explains(worker, rk.started_ms - kInFlightMs, rk.resolved_ms) != nullptr) return true;
      // Its holder let it lapse: no reclaim sent after the call that set its last known
      // lease and with a quarter of that lease still to run (a worker starved of CPU in
      // real mode renews late, and a renewal sent in the lease's last moments may arrive
      // after it; one that renewed in time and still lost its run was wronged).
      if (mine != nullptr && mine->lease_until_ms != kUnknownLease && !mine->lease_uncertain &&
          mine->lease_set_t >= 0) {
        const int64_t margin = (mine->lease_until_ms - mine->lease_set_t) / 4;
        if (!(mine->renew_sent_t > mine->lease_set_t &&
              mine->renew_sent_t < mine->lease_until_ms - margin))
          return true;
      }
      Flag(&r_, e.task, {mine != nullptr ? mine->claim_i : e.i, e.i},
           which + " ended " + Name(o) + " on " + (worker.empty() ? "no worker" : worker) +
               ", which no fault touched between " + std::to_string(rk.started_ms) + " and " +
               std::to_string(rk.resolved_ms) +
               " ms: an exception nothing explains (a misattribution)");
      return false;
    }
    // Every other outcome is a worker's report of this run.
    if (mine != nullptr) {
      for (const Report& r : mine->reports)
        if (r.outcome == o && r.status != kRefused) return true;
    }
    Flag(&r_, e.task, {e.i}, which + " ended " + Name(o) + ", but no report of that run said so");
    return false;
  }

  struct OpenClaim {
    int64_t n, t, i;
  };
  std::vector<Task> tasks_;
  std::vector<std::string> proc_names_;
  std::vector<std::string> bounds_;  // the bounds probes probe (few: kept out of Open)
  std::map<uint32_t, OpenClaim> open_claims_;
  std::vector<Window> windows_;
  std::multimap<std::string, size_t> open_windows_;
  checkers::ClaimOrder order_;
  int64_t claim_timeout_ms_ = 0;
  int64_t reaper_slack_ms_ = kReaperSlackMs;  // or the run's own (plan "target")
  bool hooks_ = false;  // the plan has hooks
  // The platform's clock was moved: from then on its times are compared with nothing.
  bool clock_jumped_ = false;
  int64_t tasks_modeled_ = 0, creates_ = 0, runs_claimed_ = 0, reports_ = 0, finals_ = 0;
  int64_t conflicts_refused_ = 0, late_refused_ = 0, probes_ = 0;
  CheckResult r_;
};

}  // namespace

std::unique_ptr<Checker> MakeTaskModelChecker() { return std::make_unique<TaskModel>(); }

}  // namespace ithappens::harness
