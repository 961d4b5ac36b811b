#include "harness/sim/sim.h"

#include <fiu-control.h>

#include <functional>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include "engine/hash.h"
#include "engine/fault_points.h"
#include "engine/memory_store.h"
#include "engine/queue.h"
#include "engine/payload.h"
#include "harness/history/history.h"
#include "harness/load/workload.h"
#include "harness/parts.h"
#include "harness/sim/callback.h"
#include "harness/targets/in_process_engine.h"

namespace ithappens::harness {
namespace {

using engine::Queue;
using engine::Status;
using engine::StatusCode;
using engine::TaskDefinition;
using engine::TaskStatus;
using nlohmann::json;

constexpr int64_t kEpochMs = 1'700'000'000'000;  // virtual time starts here
constexpr int64_t kTickMs = 100;
constexpr int kMaxAttempts = 60;

class Rng;
// The disk-fault windows, read by libfiu's external callbacks (the only globals: libfiu's
// callback takes no user pointer; the simulator is single-threaded). The chance that one
// call fails is in parts per million, drawn from the run's seeded disk generator; a
// certain failure draws nothing.
constexpr int64_t kMillion = 1'000'000;
int64_t g_fsync_fail_ppm = 0;
int64_t g_write_fail_ppm = 0;
Rng* g_disk_rng = nullptr;
bool Draw(int64_t ppm);
int FailFsync(const char*, int*, void**, unsigned int*) { return Draw(g_fsync_fail_ppm) ? 1 : 0; }
int FailWrite(const char*, int*, void**, unsigned int*) { return Draw(g_write_fail_ppm) ? 1 : 0; }

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() { return engine::Mix64(s_++); }
  int64_t Below(int64_t n) {
    return n <= 0 ? 0 : static_cast<int64_t>(Next() % static_cast<uint64_t>(n));
  }

 private:
  uint64_t s_;
};

bool Draw(int64_t ppm) {
  if (ppm <= 0) return false;
  if (ppm >= kMillion) return true;
  return g_disk_rng != nullptr && g_disk_rng->Below(kMillion) < ppm;
}

int64_t Ppm(double probability) { return static_cast<int64_t>(probability * kMillion + 0.5); }

using SimTarget = InProcessEngine;

using ParsedProgram = engine::Result<worker::Program>;

// The procs a network fault applies to: named ones, or all.
struct TargetSet {
  std::set<std::string> procs;
  bool all = false;
  bool Has(const std::string& proc) const { return all || procs.count(proc) > 0; }
  void Apply(const std::string& target, bool start) {
    if (target == "all") {
      all = start;
    } else if (start) {
      procs.insert(target);
    } else {
      procs.erase(target);
    }
  }
};

// Where one run stands in the worker: the program is under way, the lease was lost (a
// reclaim was refused: the run is dropped silently), or a report is on its way.
enum class RunPhase { kRunning, kLeaseLost, kReporting };
// One run a worker holds: shared by the timers of that run, so they capture one pointer
// and the task id is copied once.
struct HeldRun {
  int w;
  std::string task;
  uint32_t run;
  RunPhase phase = RunPhase::kRunning;
};
using Held = std::shared_ptr<HeldRun>;

struct SimWorker {
  int index = 0;
  std::string name;
  bool alive = true;
  int64_t paused_until = 0;
  uint64_t epoch = 0;
  int running = 0;
  bool claiming = false;
  int idle_backoff = 1;  // poll every poll_ms * idle_backoff
  bool leaking = false;  // the worker-leak fault
  int leaked_runs = 0;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& o)
      : o_(o),
        s_(*o.scenario),
        hist_(o.history_path),
        net_rng_(engine::Mix64(o.seed ^ 0x6e6574)),
        disk_rng_(engine::Mix64(o.seed ^ 0x6469736b)),
        client_rng_(engine::Mix64(o.seed ^ 0x636c69)),
        target_(&clock_, EngineOptions(o)),
        workload_(PlanWorkload(*o.scenario, o.load, kEpochMs)) {}

  static engine::QueueOptions EngineOptions(const SimOptions& o) {
    engine::QueueOptions qo;
    qo.claim_timeout_ms = o.scenario->claim_timeout_ms;
    qo.bugs = o.bugs;
    qo.bug_seed = o.seed;
    return qo;
  }

  engine::Result<SimSummary> Run() {
    if (!hist_.ok()) return Status::Unavailable("history: cannot write " + o_.history_path);
    clock_.SetMs(kEpochMs);
    bool disk_faults = false;
    for (const auto& f : s_.faults)
      disk_faults |= f.kind == FaultKindId::kFsyncError || f.kind == FaultKindId::kWriteError;
    if (disk_faults) {
      g_disk_rng = &disk_rng_;
      engine::InitFaultPoints();
      fiu_enable_external(engine::kFaultStoreFsync, 1, nullptr, 0, FailFsync);
      fiu_enable_external(engine::kFaultStoreWrite, 1, nullptr, 0, FailWrite);
    }
    ITHAPPENS_RETURN_IF_ERROR(target_.Start());
    Plan();
    for (int w = 0; w < s_.workers; ++w) {
      workers_.push_back(SimWorker{w, "worker-" + std::to_string(w)});
      After(0, [this, w] { Poll(w); });
    }
    ScheduleFaults();
    Every(kTickMs, [this] {
      if (!target_.Up()) return;
      (void)target_.queue().Tick();
      AfterEngineCall();
    });
    Every(1000, [this] { CheckQuiescent(); });
    const int64_t hard_end = kEpochMs + last_event_ms_ + s_.heal_ms;
    hard_end_ms_ = hard_end;
    auto report = [&](bool done) {
      if (o_.progress) {
        o_.progress(SimProgress{Now() - kEpochMs, hard_end - kEpochMs, hist_.count(), done});
      }
    };
    for (int64_t steps = 1; !timers_.empty() && !done_; ++steps) {
      if (steps % kProgressEvery == 0) report(false);
      const Timer t = timers_.top();
      timers_.pop();
      if (t.at > hard_end) break;
      if (t.at > clock_.NowMs()) clock_.SetMs(t.at);
      Callback fn = std::move(slots_[t.slot]);  // out first: fn may set timers
      free_slots_.push_back(t.slot);
      fn();
    }
    if (disk_faults) {
      g_fsync_fail_ppm = g_write_fail_ppm = 0;
      g_disk_rng = nullptr;
      fiu_disable(engine::kFaultStoreFsync);
      fiu_disable(engine::kFaultStoreWrite);
    }
    ITHAPPENS_RETURN_IF_ERROR(target_.Start());
    FinalReads();
    report(true);
    summary_.events = hist_.count();
    summary_.tasks = static_cast<int64_t>(plan_.size());
    summary_.sim_ms = clock_.NowMs() - kEpochMs;
    return summary_;
  }

 private:
  // ---------------------------------------------------------------- time
  // Timers run in (at, seq) order: seq is the order they were set, so equal times keep
  // their order. The heap holds small records; the callbacks wait in slots.
  struct Timer {
    int64_t at;
    uint64_t seq;
    uint32_t slot;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  int64_t Now() const { return clock_.NowMs(); }
  void At(int64_t t, Callback fn) {
    uint32_t slot;
    if (free_slots_.empty()) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    slots_[slot] = std::move(fn);
    timers_.push(Timer{std::max(t, Now()), seq_++, slot});
  }
  void After(int64_t d, Callback fn) { At(Now() + d, std::move(fn)); }
  template <typename F>
  void Every(int64_t period, F fn) {
    After(period, [this, period, fn = std::move(fn)]() mutable {
      fn();
      if (!done_) Every(period, std::move(fn));
    });
  }

  // A commit failed: the engine restarts, down for kRestartMs (one reload afterwards,
  // however many requests arrive meanwhile).
  static constexpr int64_t kRestartMs = 1'000;
  void AfterEngineCall() {
    if (!target_.queue().NeedsRecovery()) return;
    target_.Restarting(Now() + kRestartMs);
    summary_.engine_restarts++;
  }

  // ---------------------------------------------------------------- history
  // value_json is JSON text ("" = none): hot events are formatted without building objects.
  void Emit(std::string_view proc, EventType type, std::string_view f, std::string_view task,
            std::string_view value_json = "", std::string_view error = "") {
    hist_.AppendRaw((Now() - kEpochMs) * 1'000'000, proc, type, f, task, value_json, error);
  }
  static std::string RunJson(uint32_t run) { return "{\"run\":" + std::to_string(run) + "}"; }
  static std::string HookJson(const engine::HookDefinition& h) {
    std::string v = "{\"hook\":";
    AppendJsonString(&v, h.hook_id);
    v.push_back('}');
    return v;
  }

  // ---------------------------------------------------------------- network
  bool Reachable(const std::string& proc) const {
    if (proc.rfind("worker-", 0) != 0) return true;
    return !partitioned_.Has(proc);
  }
  bool ResponseLost(const std::string& proc) const { return response_loss_.Has(proc); }
  bool Flaky(const std::string& proc) const { return flaky_.Has(proc); }
  // One hop: the base latency, plus up to 200 ms on a flaky link.
  int64_t HopMs(const std::string& proc) {
    return s_.latency_ms + (Flaky(proc) ? net_rng_.Below(201) : 0);
  }
  bool Dropped(const std::string& proc) {
    if (!Flaky(proc)) return false;
    int64_t ppm = 0;
    for (const auto& [target, p] : flaky_ppm_)
      if (target == "all" || target == proc) ppm = std::max(ppm, p);
    return net_rng_.Below(kMillion) < ppm;
  }

  using Done = std::function<void(const Completion&)>;

  // The driver's side of a call (Jepsen's interpreter): record the invoke, hand the
  // operation to the client, record the completion when it comes back.
  void Call(Operation op, Done done) {
    summary_.requests++;
    Emit(op.proc, EventType::kInvoke, op.f, op.task, InvokeValue(op));
    auto shared = std::make_shared<const Operation>(std::move(op));
    client_.Invoke(*shared, [this, shared, done = std::move(done)](Completion c) {
      if (c.type == EventType::kOk) {
        Emit(shared->proc, EventType::kOk, shared->f, shared->task, c.value_json);
      } else {
        // A failed or unknown call names its run too, so it can be matched to its invoke.
        const bool has_run = !shared->task.empty() && shared->f != "create" &&
                             shared->f != "cancel" && shared->f != "rerun";
        Emit(shared->proc, c.type, shared->f, shared->task, has_run ? InvokeValue(*shared) : "",
             c.status.ToString());
      }
      done(c);
    });
  }
  static std::string InvokeValue(const Operation& op) {
    if (op.f == "claim") return "{\"n\":" + std::to_string(op.n) + "}";
    if (op.f == "create") {
      // What the checkers need of the definition: its digest (a re-create with another
      // definition must be refused) and its retries.
      std::string v = "{\"digest\":\"" + DefinitionDigest(*op.def) + "\",\"priority\":\"" +
                      std::string(engine::ToString(op.def->priority)) +
                      "\",\"retries\":" + std::to_string(op.def->retries);
      if (!op.probe.empty()) {
        v.append(",\"probe\":");
        AppendJsonString(&v, op.probe);
        v.append(",\"bound\":");
        AppendJsonString(&v, op.bound);
      }
      return v + "}";
    }
    if (op.f == "cancel" || op.f == "rerun") return "";
    if (op.hook) return HookJson(*op.hook);
    if (op.f == "report-exception") return ReasonRunJson(op.reason, op.run);
    return RunJson(op.run);
  }
  static std::string ReasonRunJson(engine::ReasonResolved reason, uint32_t run) {
    return "{\"reason\":\"" + std::string(engine::ToString(reason)) +
           "\",\"run\":" + std::to_string(run) + "}";
  }
  // Lease ends on the engine's clock, in ms since the run began (as final events' times).
  static std::string LeaseJson(uint32_t run, engine::TimeMs taken_until_ms) {
    return "{\"run\":" + std::to_string(run) +
           ",\"taken_until_ms\":" + std::to_string(taken_until_ms - kEpochMs) + "}";
  }

  // The simulator's Client: a simulated network between the caller and the engine core.
  // UNAVAILABLE and lost messages are `info` (the outcome is unknown; a lost message is
  // noticed when the request times out); other errors are `fail`.
  class SimClient final : public Client {
   public:
    explicit SimClient(Simulation* sim) : sim_(sim) {}
    void Invoke(const Operation& op, Done done) override {
      Simulation& s = *sim_;
      // One allocation per call: the timers capture only this (16 bytes: stored inside
      // the std::function, no allocation of their own).
      auto call = std::make_shared<InFlight>(
          InFlight{&s, op, std::move(done), s.Now() + s.s_.request_timeout_ms, {}, false});
      if (!s.Reachable(op.proc))
        return Lost(std::move(call), "request lost: partitioned from the engine");
      if (s.Dropped(op.proc)) return Lost(std::move(call), "request dropped by a flaky network");
      s.After(s.HopMs(op.proc), [call] {
        Simulation& s = *call->sim;
        const Operation& op = call->op;
        if (!s.target_.Up()) return Lost(call, "request lost: the engine is down");
        if (!s.Reachable(op.proc)) return Lost(call, "request lost: partitioned from the engine");
        call->answer = s.client_.Apply(s.target_.queue(), op);
        s.AfterEngineCall();
        call->dropped = s.Dropped(op.proc);
        s.After(s.HopMs(op.proc), [call] {
          Simulation& s = *call->sim;
          const std::string& proc = call->op.proc;
          if (call->dropped) return Lost(call, "response dropped by a flaky network");
          if (!s.Reachable(proc)) return Lost(call, "response lost: partitioned from the engine");
          if (s.ResponseLost(proc)) return Lost(call, "response lost (the request was applied)");
          call->done(std::move(call->answer));
        });
      });
    }

   private:
    struct InFlight {
      Simulation* sim;
      Operation op;
      Done done;
      int64_t timeout_at;
      Completion answer;
      bool dropped = false;
    };
    // The caller hears nothing and gives up when its request times out: info.
    static void Lost(std::shared_ptr<InFlight> call, const char* why) {
      Simulation& s = *call->sim;
      const int64_t at = call->timeout_at;
      s.At(at, [call = std::move(call), why] {
        Completion c;
        c.type = EventType::kInfo;
        c.status = Status(StatusCode::kDeadlineExceeded, why);
        call->done(std::move(c));
      });
    }
    // What the engine answers, before the network has its say.
    Completion Apply(Queue& q, const Operation& op) {
      Completion c;
      engine::RunRef ref{op.task, op.run, "sim", op.proc};
      if (op.f == "create") {
        TaskStatus ts;
        c.status = q.CreateTask(*op.def, &ts);
        if (c.status.ok()) {
          c.value_json.assign("{\"task_id\":");
          AppendJsonString(&c.value_json, ts.task_id);
          c.value_json.push_back('}');
        }
      } else if (op.f == "claim") {
        std::vector<engine::Claim>& claims = claims_;  // reused: no allocation per poll
        claims.clear();
        c.status = q.ClaimWork("sim", op.proc, op.n, &claims);
        c.value_json.assign("{\"runs\":[");
        for (size_t k = 0; k < claims.size(); ++k) {
          c.claimed.emplace_back(claims[k].task->task_id, claims[k].run_id);
          c.value_json.append(k ? ",{\"task\":" : "{\"task\":");
          AppendJsonString(&c.value_json, claims[k].task->task_id);
          c.value_json.append(",\"run\":")
              .append(std::to_string(claims[k].run_id))
              .append(",\"taken_until_ms\":")
              .append(std::to_string(claims[k].taken_until_ms - kEpochMs))
              .push_back('}');
        }
        c.value_json.append("]}");
        claims.clear();  // drop the definitions' references now
      } else if (op.f == "reclaim") {
        engine::TimeMs taken_until_ms = 0;
        c.status = q.ReclaimTask(ref, &taken_until_ms);
        if (c.status.ok()) c.value_json = LeaseJson(op.run, taken_until_ms);
      } else if (op.f == "cancel") {
        c.status = q.CancelTask(op.task);
      } else if (op.f == "rerun") {
        c.status = q.RerunTask(op.task);
      } else if (op.f == "report-completed") {
        c.status = q.ReportCompleted(ref);
        c.value_json = RunJson(op.run);
      } else if (op.f == "report-failed") {
        c.status = q.ReportFailed(ref);
        c.value_json = RunJson(op.run);
      } else if (op.f == "report-exception") {
        c.status = q.ReportException(ref, op.reason);
        c.value_json = ReasonRunJson(op.reason, op.run);
      } else if (op.f == "create-hook") {
        c.status = q.CreateHook(*op.hook);
        c.value_json = HookJson(*op.hook);
      } else if (op.f == "remove-hook") {
        c.status = q.RemoveHook(op.hook->hook_id);
        c.value_json = HookJson(*op.hook);
      } else {
        c.status = Status::InvalidArgument("f: unknown operation '" + op.f + "'");
      }
      if (c.status.ok()) {
        c.type = EventType::kOk;
      } else {
        c.type = c.status.code() == StatusCode::kUnavailable ? EventType::kInfo : EventType::kFail;
      }
      return c;
    }
    Simulation* sim_;
    std::vector<engine::Claim> claims_;
  };

  static bool Transient(const Status& st) {
    return st.code() == StatusCode::kUnavailable || st.code() == StatusCode::kDeadlineExceeded;
  }
  int64_t Backoff(int attempt) {
    int64_t base = std::min<int64_t>(100LL << std::min(attempt, 10), 10'000);
    return base / 2 + client_rng_.Below(base / 2 + 1);
  }

  // ---------------------------------------------------------------- workload
  // Emits the ground truth of every planned task, then schedules the generator's
  // submissions (in planning order, so equal plans give equal timer order).
  void Plan() {
    // What the harness configured the target with: the checkers judge leases by it.
    Emit("plan", EventType::kPlan, "target", "",
         "{\"claim_timeout_ms\":" + std::to_string(s_.claim_timeout_ms) + "}");
    if (s_.herd_window_ms > 0) {
      Emit("plan", EventType::kPlan, "herd-guard", "",
           "{\"max\":" + std::to_string(s_.herd_max) +
               ",\"window_ms\":" + std::to_string(s_.herd_window_ms) + "}");
    }
    for (const PlannedTask& t : plan_) {
      Emit("plan", EventType::kPlan, "task", t.def.task_id, t.PlanJson());
      programs_.emplace(t.def.task_id, t.program);
    }
    hook_creating_.assign(workload_.hooks.size(), false);
    hook_remove_waiting_.assign(workload_.hooks.size(), false);
    for (size_t h = 0; h < workload_.hooks.size(); ++h) {
      const PlannedHook& hook = workload_.hooks[h];
      Emit("plan", EventType::kPlan, "hook", "", hook.PlanValue(plan_).dump());
      auto def = std::make_shared<const engine::HookDefinition>(hook.def);
      At(kEpochMs + hook.at_ms, [this, h, def] {
        hook_creating_[h] = true;
        SubmitHook(h, def, "create-hook", 0);
      });
      At(kEpochMs + hook.until_ms, [this, h, def] {
        // A client removes its hook once it is done creating it, never before.
        if (hook_creating_[h]) {
          hook_remove_waiting_[h] = true;
        } else {
          SubmitHook(h, def, "remove-hook", 0);
        }
      });
    }
    if (s_.bound_probes) {
      creates_in_flight_++;
      At(kEpochMs + kProbeAtMs, [this] {
        probes_ = BoundProbes(s_.name, Now());
        SubmitProbe(0);
      });
    }
    WorkloadGenerator generator(workload_);
    while (auto sub = generator.Next()) {
      // The clients' later calls (re-create, cancel, rerun) belong to the workload: the
      // heal phase starts after them.
      for (size_t k : sub->tasks) {
        const PlannedTask& t = plan_[k];
        const int64_t later = std::max({t.recreate_after_ms, t.cancel_after_ms, t.rerun_after_ms});
        if (later >= 0) last_event_ms_ = std::max(last_event_ms_, sub->at_ms + later);
      }
      At(kEpochMs + sub->at_ms, [this, chain = sub->tasks] { SubmitChain(chain, 0); });
    }
    last_event_ms_ = std::max(last_event_ms_, workload_.last_ms);
  }

  // Creates chain[k], then (when its create is answered) chain[k+1]. A task whose create
  // was acknowledged gets its client's later calls (re-create, cancel, rerun).
  void SubmitChain(std::vector<size_t> chain, size_t k) {
    if (k == chain.size()) return;
    PlannedTask& t = plan_[chain[k]];
    t.def.created_ms = t.created_at_ms >= 0 ? kEpochMs + t.created_at_ms : Now();
    t.def.deadline_ms = t.def.created_ms + t.deadline_after_ms;
    if (t.def.deadline_ms <= hard_end_ms_)
      latest_deadline_ms_ = std::max(latest_deadline_ms_, t.def.deadline_ms);
    creates_in_flight_++;
    auto def = std::make_shared<const TaskDefinition>(t.def);
    SubmitCreate(def, t.client, 0, [this, chain, k, def](bool acknowledged) {
      creates_in_flight_--;
      if (acknowledged) LaterCalls(plan_[chain[k]], def);
      SubmitChain(chain, k + 1);
    });
  }

  // Sends a create, retrying it while the outcome is unknown; then(acknowledged). A probe
  // (BoundProbes) names what it probes in the history.
  void SubmitCreate(std::shared_ptr<const TaskDefinition> def, int client, int attempt,
                    std::function<void(bool)> then, const BoundProbe* probe = nullptr) {
    Operation op;
    op.proc = "client-" + std::to_string(client);
    op.f = "create";
    op.task = def->task_id;
    op.def = def;
    if (probe != nullptr) {
      op.probe = probe->accept ? "accept" : "refuse";
      op.bound = probe->bound;
    }
    Call(std::move(op), [this, def, client, attempt, then, probe](const Completion& c) {
      if (Transient(c.status) && attempt + 1 < kMaxAttempts) {
        After(Backoff(attempt), [this, def, client, attempt, then, probe] {
          SubmitCreate(def, client, attempt + 1, then, probe);
        });
        return;
      }
      then(c.type == EventType::kOk);
    });
  }

  // The bound probes, one after the other, from client 0.
  void SubmitProbe(size_t k) {
    if (k == probes_.size()) {
      creates_in_flight_--;
      return;
    }
    auto def = std::make_shared<const TaskDefinition>(probes_[k].def);
    SubmitCreate(
        def, 0, 0, [this, k](bool) { SubmitProbe(k + 1); }, &probes_[k]);
  }

  // The client's calls on an acknowledged task that drive the queue's rules: the same
  // create again (OK), a create with one field changed (ALREADY_EXISTS), cancel, rerun.
  // The run does not end while any of them is still to come (later_calls_).
  void LaterCalls(const PlannedTask& t, std::shared_ptr<const TaskDefinition> def) {
    const int client = t.client;
    if (t.recreate_after_ms >= 0) {
      std::string field;
      auto changed =
          std::make_shared<const TaskDefinition>(ChangedDefinition(*def, t.ordinal, &field));
      later_calls_++;
      After(t.recreate_after_ms, [this, def, changed, client] {
        SubmitCreate(def, client, 0, [this, changed, client](bool) {
          SubmitCreate(changed, client, 0, [this](bool) { later_calls_--; });
        });
      });
    }
    for (auto [f, after_ms] :
         {std::pair{"cancel", t.cancel_after_ms}, {"rerun", t.rerun_after_ms}}) {
      if (after_ms < 0) continue;
      later_calls_++;
      After(after_ms, [this, f, def, client] { SubmitTaskCall(f, def->task_id, client, 0); });
    }
  }

  // cancel or rerun, retried while the outcome is unknown (both are idempotent).
  void SubmitTaskCall(const char* f, std::string task, int client, int attempt) {
    Operation op;
    op.proc = "client-" + std::to_string(client);
    op.f = f;
    op.task = task;
    Call(std::move(op), [this, f, task, client, attempt](const Completion& c) {
      if (Transient(c.status) && attempt + 1 < kMaxAttempts) {
        After(Backoff(attempt),
              [this, f, task, client, attempt] { SubmitTaskCall(f, task, client, attempt + 1); });
        return;
      }
      later_calls_--;
    });
  }

  // Creates or removes a hook, retrying while the outcome is unknown (both are idempotent:
  // the same definition again is OK; a second removal is NOT_FOUND).
  void SubmitHook(size_t h, std::shared_ptr<const engine::HookDefinition> def, const char* f,
                  int attempt) {
    Operation op;
    op.proc = "client-" + std::to_string(workload_.hooks[h].client);
    op.f = f;
    op.hook = def;
    Call(std::move(op), [this, h, def, f, attempt](const Completion& c) {
      const bool creating = std::string_view(f) == "create-hook";
      // The creation gives up at the hook's removal time: no hook is made after it.
      const bool late = creating && Now() >= kEpochMs + workload_.hooks[h].until_ms;
      if (Transient(c.status) && attempt + 1 < kMaxAttempts && !late) {
        After(Backoff(attempt), [this, h, def, f, attempt] { SubmitHook(h, def, f, attempt + 1); });
        return;
      }
      if (!creating) return;
      hook_creating_[h] = false;
      if (hook_remove_waiting_[h]) SubmitHook(h, def, "remove-hook", 0);
    });
  }

  // The parsed program of a task: planned tasks are parsed once at planning time; a task
  // the plan does not know (a platform that invents ids) is fetched and parsed once.
  std::shared_ptr<const ParsedProgram> ProgramOf(const std::string& task) {
    auto it = programs_.find(task);
    if (it != programs_.end()) return it->second;
    auto def = target_.Up()
                   ? target_.queue().GetTask(task)
                   : engine::Result<engine::TaskDefinitionPtr>(Status::Unavailable("down"));
    auto parsed = std::make_shared<const ParsedProgram>(
        worker::ParsePayload(def.ok() ? (*def)->payload : ""));
    programs_.emplace(task, parsed);
    return parsed;
  }

  // ---------------------------------------------------------------- workers
  // Runs fn for worker w unless it crashed since (epoch) or defers it while paused.
  template <typename F>
  void WorkerAt(int w, int64_t t, F fn) {
    uint64_t epoch = workers_[w].epoch;
    At(t, [this, w, epoch, fn = std::move(fn)]() mutable {
      SimWorker& wk = workers_[w];
      if (wk.epoch != epoch || !wk.alive) return;
      if (Now() < wk.paused_until) return WorkerAt(w, wk.paused_until, std::move(fn));
      fn();
    });
  }

  void Poll(int w) {
    SimWorker& wk = workers_[w];
    int free = s_.capacity - wk.running;
    if (free > 0 && !wk.claiming) {
      wk.claiming = true;
      uint64_t epoch = wk.epoch;
      Operation op;
      op.proc = wk.name;
      op.f = "claim";
      op.n = free;
      Call(std::move(op), [this, w, epoch](const Completion& c) {
        SimWorker& wk = workers_[w];
        if (wk.epoch != epoch) return;
        wk.claiming = false;
        if (!c.status.ok() || !wk.alive) return;
        // An idle worker polls less and less often (up to 10x poll_ms), as real
        // workers do; work brings it back to poll_ms.
        wk.idle_backoff = c.claimed.empty() ? std::min(wk.idle_backoff * 2, 10) : 1;
        for (const auto& [task, run] : c.claimed) StartTask(w, task, run);
        if (s_.late_calls && !c.claimed.empty()) Impostor(w, c.claimed.front());
      });
    }
    WorkerAt(w, Now() + s_.poll_ms * wk.idle_backoff, [this, w] { Poll(w); });
  }

  void StartTask(int w, const std::string& task, uint32_t run) {
    SimWorker& wk = workers_[w];
    wk.running++;
    std::shared_ptr<const ParsedProgram> parsed = ProgramOf(task);
    const ParsedProgram& program = *parsed;
    Held r = std::make_shared<HeldRun>(HeldRun{w, task, run});
    if (!program.ok()) {
      return Report(r, "report-exception", engine::ReasonResolved::kMalformedPayload, 0);
    }
    // Keep the lease alive while the program runs.
    ScheduleReclaim(r);
    // The program's meaning is the worker's (worker::RunProgram); here its steps take
    // virtual time and its effects are delivered at theirs.
    struct Host final : worker::StepHost {
      Simulation* sim;
      const Held& r;
      const std::shared_ptr<const ParsedProgram>& parsed;
      int64_t offset = 0;
      Host(Simulation* s, const Held& held, const std::shared_ptr<const ParsedProgram>& p)
          : sim(s), r(held), parsed(p) {}
      bool Wait(const worker::Step& st) override {
        offset += st.value;
        return true;
      }
      bool Allocate(const worker::Step&) override { return true; }
      bool Effect(size_t k, const worker::Step&) override {
        // If the sink is down when the step runs, the worker gives up on this run with
        // intermittent-task (a downstream outage: the platform retries it).
        sim->WorkerAt(r->w, sim->Now() + offset,
                      [s = sim, r = r, parsed = parsed, k] { s->Deliver(r, (*parsed)->steps[k], k); });
        return true;
      }
    } host(this, r, parsed);
    const std::optional<worker::Ending> end = worker::RunProgram(*program, run, host);
    using engine::RunState;
    const RunState state = end ? end->state : RunState::kCompleted;
    Report(r,
           state == RunState::kCompleted ? "report-completed"
           : state == RunState::kFailed  ? "report-failed"
                                         : "report-exception",
           end ? end->reason : engine::ReasonResolved::kCompleted, host.offset);
  }

  // Step k of run r, an effect, reaches the sink (or the sink is down).
  void Deliver(const Held& r, const worker::Step& st, size_t k) {
    if (r->phase != RunPhase::kRunning) return;
    auto give_up = [&](const char* why) {
      Emit(workers_[r->w].name, EventType::kFail, "deliver", r->task, "", why);
      r->phase = RunPhase::kReporting;
      SendReport(r, "report-exception", engine::ReasonResolved::kIntermittentTask, 0);
    };
    if (SinkDown()) return give_up("effect sink unavailable");
    std::string key = engine::EffectKey(r->task, r->run, static_cast<int>(k), o_.bugs);
    std::string v = "{\"key\":";
    AppendJsonString(&v, key);
    v.append(",\"step\":")
        .append(std::to_string(k))
        .append(",\"run\":")
        .append(std::to_string(r->run));
    v.append(",\"channel\":");
    AppendJsonString(&v, st.channel);
    v.append(",\"to\":");
    AppendJsonString(&v, st.to);
    const bool delivered = delivered_keys_.insert(std::move(key)).second;
    v.append(delivered ? ",\"delivered\":true}" : ",\"delivered\":false}");
    Emit("sink", EventType::kEffect, "deliver", r->task, v);
    if (sink_leaking_ && ++sink_leaked_deliveries_ % kSinkDeliveriesPerOom == 0) {
      // The leak runs out: the sink dies after it delivered, before it answered. The
      // worker cannot know the message went out; the retry must not send it again (the
      // idempotency key is per task and step).
      Emit("nemesis", EventType::kFault, Name(FaultKindId::kSinkOom), "", "{\"target\":\"sink\"}");
      sink_oom_until_ = Now() + kSinkRestartMs;
      return give_up("effect sink died before answering (out of memory)");
    }
  }

  // Keeps the lease alive while the program runs: reclaims at half the lease.
  void ScheduleReclaim(const Held& r) {
    WorkerAt(r->w, Now() + s_.claim_timeout_ms / 2, [this, r] {
      if (r->phase != RunPhase::kRunning) return;
      Call(RunCall(r->w, "reclaim", r->task, r->run), [this, r](const Completion& c) {
        if (c.status.code() == StatusCode::kFailedPrecondition ||
            c.status.code() == StatusCode::kNotFound) {
          // The run was taken from us: stop working on it, report nothing.
          if (r->phase == RunPhase::kRunning) r->phase = RunPhase::kLeaseLost;
          return;
        }
        if (r->phase == RunPhase::kRunning) ScheduleReclaim(r);
      });
    });
  }

  // Schedules the end of a run: unless the lease was lost (the run is dropped silently) or
  // a report is already on its way, send this one.
  void Report(const Held& r, const char* f, engine::ReasonResolved reason, int64_t offset) {
    WorkerAt(r->w, Now() + offset, [this, r, f, reason] {
      if (r->phase == RunPhase::kLeaseLost) {
        // With late calls the worker reports anyway: the engine must refuse it (fencing).
        if (s_.late_calls) LateCall(r, f, reason);
        RunEnded(r->w, workers_[r->w].epoch);
        return;
      }
      if (r->phase == RunPhase::kReporting) return;
      r->phase = RunPhase::kReporting;
      SendReport(r, f, reason, 0);
    });
  }

  // A call of worker w about one run of a task (reclaim, report-*).
  Operation RunCall(int w, const char* f, const std::string& task, uint32_t run,
                    engine::ReasonResolved reason = engine::ReasonResolved::kNone) const {
    Operation op;
    op.proc = workers_[w].name;
    op.f = f;
    op.task = task;
    op.run = run;
    op.reason = reason;
    return op;
  }

  // Sends a report, retrying it while the outcome is unknown; frees the worker's slot.
  void SendReport(const Held& r, const char* f, engine::ReasonResolved reason, int attempt) {
    const uint64_t epoch = workers_[r->w].epoch;
    Call(RunCall(r->w, f, r->task, r->run, reason),
         [this, r, f, reason, attempt, epoch](const Completion& c) {
           if (Transient(c.status) && attempt + 1 < kMaxAttempts) {
             WorkerAt(r->w, Now() + Backoff(attempt),
                      [this, r, f, reason, attempt] { SendReport(r, f, reason, attempt + 1); });
             return;
           }
           if (s_.late_calls && c.type == EventType::kOk) {
             // A second later: the same report again (OK: reports are idempotent) and a
             // reclaim of the run it ended (refused).
             WorkerAt(r->w, Now() + kLateCallMs, [this, r, f, reason] {
               LateCall(r, f, reason);
               LateCall(r, "reclaim", reason);
             });
           }
           RunEnded(r->w, epoch);
         });
  }

  // With late calls, another worker (an impostor: a misconfigured twin, a confused
  // operator's script) reclaims and fails a run it does not hold, 100 ms after the holder
  // got it. Both must be refused (fencing by worker): if either is accepted, the holder's
  // own calls are refused and the task ends on someone else's word.
  void Impostor(int holder, const std::pair<std::string, uint32_t>& claimed) {
    if (workers_.size() < 2) return;
    const int w = (holder + 1) % static_cast<int>(workers_.size());
    After(100, [this, w, task = claimed.first, run = claimed.second] {
      for (const char* f : {"reclaim", "report-failed"})
        Call(RunCall(w, f, task, run), [](const Completion&) {});
    });
  }

  // One call of worker r->w about run r, sent once, whatever it is answered.
  static constexpr int64_t kLateCallMs = 1'000;
  void LateCall(const Held& r, const char* f, engine::ReasonResolved reason) {
    Call(RunCall(r->w, f, r->task, r->run, reason), [](const Completion&) {});
  }

  // A run of worker w (in the given epoch) is over: free its slot. A worker that leaks
  // (the worker-leak fault) is OOM-killed every kTasksPerOom runs and restarted by its
  // supervisor kOomRestartMs later; its tasks in hand expire.
  static constexpr int kTasksPerOom = 5;
  static constexpr int64_t kOomRestartMs = 5'000;
  void RunEnded(int w, uint64_t epoch) {
    SimWorker& wk = workers_[w];
    if (wk.epoch != epoch) return;  // the worker died since: its slots were freed then
    wk.running--;
    if (!wk.leaking || ++wk.leaked_runs < kTasksPerOom) return;
    wk.leaked_runs = 0;
    Emit("nemesis", EventType::kFault, Name(FaultKindId::kWorkerOom), "", "{\"target\":\"" + wk.name + "\"}");
    Kill(wk);
    At(Now() + kOomRestartMs, [this, w] {
      SimWorker& again = workers_[w];
      if (again.alive) return;
      Revive(again);
    });
  }

  void Kill(SimWorker& wk) {
    wk.alive = false;
    wk.epoch++;
    wk.running = 0;
    wk.claiming = false;
  }

  void Revive(SimWorker& wk) {
    wk.alive = true;
    wk.idle_backoff = 1;
    wk.epoch++;
    wk.running = 0;
    wk.claiming = false;  // a claim of the old epoch will be dropped when it answers
    Poll(wk.index);
  }

  // ---------------------------------------------------------------- nemesis
  void ScheduleFaults() {
    for (const FaultEdge& edge : FaultSchedule(s_.faults)) {
      At(kEpochMs + edge.at_ms,
         [this, &f = s_.faults[edge.fault], start = edge.start] { Fault(f, start); });
    }
    last_event_ms_ = std::max(last_event_ms_, LastFaultEndMs(s_.faults));
  }

  int WorkerIndex(const std::string& target) const { return std::stoi(target.substr(7)); }

  // The driver's side of a fault: record it, then let the nemesis act.
  void Fault(const FaultSpec& f, bool start) {
    json v = f.target.empty() ? json::object() : json{{"target", f.target}};
    v["duration_ms"] = f.duration_ms;
    Emit("nemesis", EventType::kFault, FaultEdgeName(Name(f.kind), start), "", v.dump());
    if (start) {
      nemesis_.Start(f);
    } else {
      nemesis_.Stop(f);
    }
  }

  // The simulator's Nemesis: each fault kind changes the simulated world.
  class SimNemesis final : public Nemesis {
   public:
    explicit SimNemesis(Simulation* sim) : sim_(sim) {}
    void Start(const FaultSpec& f) override { Apply(f, true); }
    void Stop(const FaultSpec& f) override { Apply(f, false); }

   private:
    void Apply(const FaultSpec& f, bool start) {
      if (f.kind == FaultKindId::kWorkerCrash) {
        SimWorker& wk = sim_->workers_[sim_->WorkerIndex(f.target)];
        if (start) {
          sim_->Kill(wk);
        } else {
          sim_->Revive(wk);
        }
      } else if (f.kind == FaultKindId::kWorkerLeak) {
        SimWorker& wk = sim_->workers_[sim_->WorkerIndex(f.target)];
        wk.leaking = start;
        wk.leaked_runs = 0;
      } else if (f.kind == FaultKindId::kWorkerPause) {
        if (start)
          sim_->workers_[sim_->WorkerIndex(f.target)].paused_until = sim_->Now() + f.duration_ms;
      } else if (f.kind == FaultKindId::kPartition) {
        sim_->partitioned_.Apply(f.target, start);
      } else if (f.kind == FaultKindId::kEngineCrash) {
        if (start && sim_->target_.Up()) {
          sim_->target_.Kill();
          sim_->summary_.engine_crashes++;
        } else if (!start && !sim_->target_.Up()) {
          (void)sim_->target_.Start();
        }
      } else if (f.kind == FaultKindId::kResponseLoss) {
        sim_->response_loss_.Apply(f.target, start);
      } else if (f.kind == FaultKindId::kFlakyNetwork) {
        sim_->flaky_.Apply(f.target, start);
        if (start) {
          sim_->flaky_ppm_[f.target] = Ppm(f.probability);
        } else {
          sim_->flaky_ppm_.erase(f.target);
        }
      } else if (f.kind == FaultKindId::kClockJump) {
        sim_->target_.clock().offset_ms = start ? f.duration_ms : 0;
      } else if (f.kind == FaultKindId::kSinkOutage) {
        sim_->sink_down_ = start;
      } else if (f.kind == FaultKindId::kSinkLeak) {
        sim_->sink_leaking_ = start;
        sim_->sink_leaked_deliveries_ = 0;
      } else if (f.kind == FaultKindId::kFsyncError) {
        g_fsync_fail_ppm = start ? Ppm(f.probability) : 0;
      } else if (f.kind == FaultKindId::kWriteError) {
        g_write_fail_ppm = start ? Ppm(f.probability) : 0;
      }
    }
    Simulation* sim_;
  };

  // ---------------------------------------------------------------- the end
  void CheckQuiescent() {
    if (Now() < kEpochMs + last_event_ms_ || creates_in_flight_ > 0 || later_calls_ > 0 ||
        !target_.Up())
      return;
    if (Now() < latest_deadline_ms_ + 2 * kTickMs) return;
    auto counts = target_.queue().CountByState();
    int busy = 0;
    for (const auto& w : workers_) busy += w.running;
    if (counts[static_cast<int>(engine::TaskState::kPending)] == 0 &&
        counts[static_cast<int>(engine::TaskState::kRunning)] == 0 && busy == 0) {
      done_ = true;
    }
  }

  // The final event's value, keys in sorted order (as nlohmann would write them).
  static std::string FinalJson(const TaskStatus& s) {
    auto rel = [](engine::TimeMs t) { return std::to_string(t ? t - kEpochMs : 0); };
    std::string v = "{";
    if (s.blocked_by) {
      v.append("\"blocked_by\":");
      AppendJsonString(&v, *s.blocked_by);
      v.push_back(',');
    }
    v.append("\"deadline_ms\":").append(std::to_string(s.deadline_ms - kEpochMs));
    v.append(",\"runs\":[");
    for (size_t k = 0; k < s.runs.size(); ++k) {
      const auto& r = s.runs[k];
      v.append(k ? ",{\"reason_created\":\"" : "{\"reason_created\":\"")
          .append(engine::ToString(r.reason_created))
          .append("\",\"reason_resolved\":\"")
          .append(engine::ToString(r.reason_resolved))
          .append("\",\"resolved_ms\":")
          .append(rel(r.resolved_ms))
          .append(",\"started_ms\":")
          .append(rel(r.started_ms))
          .append(",\"state\":\"")
          .append(engine::ToString(r.state))
          .append("\",\"worker\":");
      AppendJsonString(&v, r.worker ? r.worker->id : "");
      v.push_back('}');
    }
    v.append("],\"state\":\"").append(engine::ToString(s.state)).append("\"}");
    return v;
  }

  void FinalReads() {
    std::vector<const std::string*> ids;
    for (const PlannedTask& t : plan_) ids.push_back(&t.def.task_id);
    for (const BoundProbe& p : probes_) ids.push_back(&p.def.task_id);
    for (const std::string* id : ids) {
      TaskStatus s;
      Status st = target_.queue().GetStatus(*id, &s);
      if (!st.ok()) {
        Emit("final", EventType::kFinal, "status", *id, "",
             st.code() == StatusCode::kNotFound ? "not found" : st.ToString());
        continue;
      }
      Emit("final", EventType::kFinal, "status", *id, FinalJson(s));
    }
  }

  const SimOptions& o_;
  const Scenario& s_;
  HistoryWriter hist_;
  engine::ManualClock clock_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<Callback> slots_;
  std::vector<uint32_t> free_slots_;
  uint64_t seq_ = 0;
  bool done_ = false;
  int64_t last_event_ms_ = 0;
  Rng net_rng_, disk_rng_, client_rng_;
  SimTarget target_;
  SimNemesis nemesis_{this};
  SimClient client_{this};
  Workload workload_;
  std::vector<PlannedTask>& plan_ = workload_.tasks;
  std::vector<SimWorker> workers_;
  TargetSet partitioned_, response_loss_, flaky_;
  std::map<std::string, int64_t> flaky_ppm_;  // target -> drop chance, while it lasts
  // The sink: down for a sink-outage; with sink-leak it runs out of memory every
  // kSinkDeliveriesPerOom deliveries and its supervisor restarts it kSinkRestartMs later.
  static constexpr int kSinkDeliveriesPerOom = 20;
  static constexpr int64_t kSinkRestartMs = 10'000;
  bool SinkDown() const { return sink_down_ || Now() < sink_oom_until_; }
  bool sink_down_ = false;
  bool sink_leaking_ = false;
  int64_t sink_leaked_deliveries_ = 0;
  int64_t sink_oom_until_ = 0;
  std::set<std::string> delivered_keys_;
  std::unordered_map<std::string, std::shared_ptr<const ParsedProgram>> programs_;
  int64_t creates_in_flight_ = 0;
  int64_t later_calls_ = 0;  // re-creates, cancels and reruns still to be answered
  static constexpr int64_t kProbeAtMs = 1'000;
  std::vector<BoundProbe> probes_;  // the bound probes (bound_probes), made at kProbeAtMs
  std::vector<bool> hook_creating_, hook_remove_waiting_;  // per planned hook
  // The run ends no earlier than the latest deadline that falls before its hard end, so a
  // task blocked until its deadline is judged after it.
  int64_t hard_end_ms_ = INT64_MAX, latest_deadline_ms_ = 0;
  SimSummary summary_;
};

}  // namespace

engine::Result<SimSummary> RunSimulation(const SimOptions& options) {
  if (options.scenario == nullptr) return Status::InvalidArgument("scenario: missing");
  if (options.load <= 0 || options.load > 1000) {
    return Status::InvalidArgument("load: " + std::to_string(options.load) +
                                   " is outside (0, 1000]");
  }
  Simulation sim(options);
  return sim.Run();
}

}  // namespace ithappens::harness
