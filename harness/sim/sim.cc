#include "harness/sim/sim.h"

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/queue.h"
#include "engine/task_id_index.h"
#include "harness/history/history.h"
#include "harness/load/workload.h"
#include "harness/parts.h"
#include "harness/sim/disk.h"
#include "harness/sim/nemesis.h"
#include "harness/sim/network.h"
#include "harness/sim/sink.h"
#include "harness/sim/timers.h"
#include "harness/sim/workers.h"
#include "harness/sim/world.h"
#include "harness/targets/in_process_engine.h"

namespace ithappens::harness {
namespace {

using engine::Status;
using engine::StatusCode;
using engine::TaskDefinition;
using engine::TaskStatus;
using nlohmann::json;

constexpr int64_t kTickMs = 100;

// The driver (Jepsen's interpreter): assembles the parts — timer loop, network and client,
// workers, sink, disk, nemesis (harness/sim/*.h) — around the engine core, records every
// call and event in the history, plays the workload's clients (creates, later calls,
// hooks) and ends the run when it is quiet.
class Simulation final : public Driver, SimClient::PlanCalls {
 public:
  explicit Simulation(const SimOptions& o)
      : o_(o),
        s_(*o.scenario),
        hist_(o.history_path, o.history_tee),
        loop_(kEpochMs),
        network_(s_.latency_ms, engine::Mix64(o.seed ^ 0x6e6574)),
        disk_(engine::Mix64(o.seed ^ 0x6469736b)),
        client_rng_(engine::Mix64(o.seed ^ 0x636c69)),
        target_(&loop_.clock(), EngineOptions(o)),
        client_(
            loop_, network_, target_, s_.request_timeout_ms, [this] { AfterEngineCall(); },
            [this](SimClient::Call& call, const Completion& c) { Finished(call, c); }, this),
        workers_(loop_, *this, sink_, s_, o.bugs),
        nemesis_({loop_, workers_, network_, target_, sink_, disk_, summary_.engine_crashes}),
        workload_(PlanWorkload(*o.scenario, o.load, kEpochMs)) {}

  static engine::QueueOptions EngineOptions(const SimOptions& o) {
    engine::QueueOptions qo;
    qo.claim_timeout_ms = o.scenario->claim_timeout_ms;
    qo.bugs = o.bugs;
    qo.bug_seed = o.seed;
    // The plan's size (and the bound probes' few tasks beyond it): room made once.
    qo.expected_tasks =
        static_cast<size_t>(std::min(SizeOfRun(*o.scenario, o.load).tasks, kMaxRunTasks));
    return qo;
  }

  engine::Result<SimSummary> Run() {
    if (!hist_.ok()) return Status::Unavailable("history: cannot write " + o_.history_path);
    bool disk_faults = false;
    for (const auto& f : s_.faults)
      disk_faults |= f.kind == FaultKindId::kFsyncError || f.kind == FaultKindId::kWriteError;
    if (disk_faults) disk_.Arm();  // disarmed below, or by its destructor on an early return
    ITHAPPENS_RETURN_IF_ERROR(target_.Start());
    Plan();
    workers_.Start();
    ScheduleFaults();
    loop_.Every(kTickMs, [this] {
      if (!target_.Up()) return;
      (void)target_.queue().Tick();
      AfterEngineCall();
    });
    loop_.Every(1000, [this] { CheckQuiescent(); });
    const int64_t hard_end = kEpochMs + last_event_ms_ + s_.heal_ms;
    hard_end_ms_ = hard_end;
    auto report = [&](bool done) {
      if (o_.progress) {
        o_.progress(SimProgress{Now() - kEpochMs, hard_end - kEpochMs, hist_.count(), done});
      }
    };
    loop_.Run(hard_end, kProgressEvery, [&] { report(false); });
    disk_.Disarm();
    ITHAPPENS_RETURN_IF_ERROR(target_.Start());
    FinalReads();
    report(true);
    summary_.events = hist_.count();
    summary_.tasks = static_cast<int64_t>(plan_.size());
    summary_.sim_ms = loop_.Now() - kEpochMs;
    if (std::string why; !hist_.Close(&why)) return Status::Unavailable("history: " + why);
    return summary_;
  }

 private:
  int64_t Now() const { return loop_.Now(); }
  // Lambdas go through to the loop as they are, so it sees (and checks) their size.
  template <typename F>
  void At(int64_t t, F&& fn) {
    loop_.At(t, std::forward<F>(fn));
  }
  template <typename F>
  void After(int64_t d, F&& fn) {
    loop_.After(d, std::forward<F>(fn));
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
  void Emit(std::string_view proc, EventType type, std::string_view f, std::string_view task,
            std::string_view value_json = "", std::string_view error = "") override {
    hist_.AppendRaw((Now() - kEpochMs) * 1'000'000, proc, type, f, task, value_json, error);
  }

  // ---------------------------------------------------------------- calls
  // The driver's side of a call (Jepsen's interpreter): record the invoke, hand the
  // operation to the client, record the completion when it comes back.
  void Call(Operation op, Done done) override {
    Invoked(op);
    // One allocation: the operation, its continuation and the network's state of the call
    // together; Finished records the completion when it comes back.
    auto call = std::make_unique<SimClient::Call>();
    call->op = std::move(op);
    call->then = std::move(done);
    client_.Send(std::move(call));
  }
  // A call in the history as it is sent (a Call or a plan's create alike).
  void Invoked(const Operation& op) {
    summary_.requests++;
    Emit(op.proc, EventType::kInvoke, op.f, op.TaskId(), InvokeValue(op));
  }
  void Finished(SimClient::Call& call, const Completion& c) {
    Record(call.op, c);
    call.then(c);
  }
  // The completion of a call in the history.
  void Record(const Operation& op, const Completion& c) {
    if (c.type == EventType::kOk) {
      Emit(op.proc, EventType::kOk, op.f, op.TaskId(), c.value_json);
    } else {
      // A failed or unknown call names its run too, so it can be matched to its invoke.
      const bool has_run =
          !op.TaskId().empty() && op.f != "create" && op.f != "cancel" && op.f != "rerun";
      Emit(op.proc, c.type, op.f, op.TaskId(), has_run ? InvokeValue(op) : "", c.status.ToString());
    }
  }
  // The invoke's value, in a buffer reused from call to call (valid until the next).
  std::string_view InvokeValue(const Operation& op) {
    std::string& v = invoke_value_;
    v.clear();
    if (op.f == "claim") return v.append("{\"n\":").append(std::to_string(op.n)).append("}");
    if (op.f == "create") {
      // What the checkers need of the definition: its digest (a re-create with another
      // definition must be refused) and its retries.
      v.append("{\"digest\":\"");
      if (op.digest == nullptr) {
        const DigestText digest = DefinitionDigestText(*op.def);
        v.append(digest.data(), digest.size());
      } else {
        v.append(op.digest->data(), op.digest->size());
      }
      v.append("\",\"priority\":\"")
          .append(engine::ToString(op.def->priority))
          .append("\",\"retries\":")
          .append(std::to_string(op.def->retries));
      if (op.probe != nullptr) {
        v.append(",\"probe\":");
        AppendJsonString(&v, op.probe->accept ? "accept" : "refuse");
        v.append(",\"bound\":");
        AppendJsonString(&v, op.probe->bound);
      }
      return v.append("}");
    }
    if (op.f == "cancel" || op.f == "rerun") return "";
    if (op.hook) return v = HookJson(*op.hook);
    if (op.f == "report-exception") return v = ReasonRunJson(op.reason, op.run);
    return v = RunJson(op.run);
  }

  int64_t Backoff(int attempt) override {
    int64_t base = std::min<int64_t>(100LL << std::min(attempt, 10), 10'000);
    return base / 2 + client_rng_.Below(base / 2 + 1);
  }

  // ---------------------------------------------------------------- workload (the clients)
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
      Emit("plan", EventType::kPlan, "task", t.def->task_id, t.PlanJson());
      // The first planned task of an id is the one found by it.
      program_index_.FindOrInsert(t.def->task_id, static_cast<uint32_t>(&t - plan_.data()),
                                  PlannedId());
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
    for (const Submission& sub : workload_.submissions) {
      // The clients' later calls (re-create, cancel, rerun) belong to the workload: the
      // heal phase starts after them.
      for (size_t k : sub.tasks) {
        const PlannedTask& t = plan_[k];
        const int64_t later = std::max({t.recreate_after_ms, t.cancel_after_ms, t.rerun_after_ms});
        if (later >= 0) last_event_ms_ = std::max(last_event_ms_, sub.LastAtMs() + later);
      }
    }
    // Every submission at its time, in planning order among equal times (the stream takes
    // the seqs one At() per submission would have taken, at this same point).
    std::vector<TimerLoop::Repeating> items;
    items.reserve(workload_.submissions.size());
    for (const Submission& sub : workload_.submissions)
      items.push_back({kEpochMs + sub.at_ms, sub.every_ms, sub.repeats});
    loop_.SetStream(items, [this](uint32_t k, int64_t) { SubmitChain(k, 0); });
    last_event_ms_ = std::max(last_event_ms_, workload_.last_ms);
  }

  // Creates chain[k], then (when its create is answered) chain[k+1]. A task whose create
  // was acknowledged gets its client's later calls (re-create, cancel, rerun).
  void SubmitChain(uint32_t sub, size_t k) {
    const TaskRange chain = workload_.submissions[sub].tasks;
    if (k == chain.size()) return;
    PlannedTask& t = plan_[chain[k]];
    const int64_t created = t.created_at_ms >= 0 ? kEpochMs + t.created_at_ms : Now();
    const int64_t deadline = created + t.deadline_after_ms;
    if (deadline <= hard_end_ms_) latest_deadline_ms_ = std::max(latest_deadline_ms_, deadline);
    creates_in_flight_++;
    // The plan's own definition object is sent, stamped, with the expiry the engine would
    // fill in (so the engine keeps it rather than a copy; the digest is of that form
    // anyway). An object someone still holds (the engine, a call in flight) is never
    // changed: it is copied first. A cron filler sends the same definition (its created
    // time is fixed) again and again: stamped, and its digest computed, once. Any other
    // task is submitted once, so its definition is never stamped again while its create
    // is in flight: its retries and its continuation find it in the plan, and its digest
    // is made when it is sent (held per task, it was 16 bytes of every task of a batch).
    DigestText* digest = RepeatedDigest(sub, chain[k]);
    if (digest == nullptr || (*digest)[0] == '\0' || t.def->created_ms != created ||
        t.def->deadline_ms != deadline) {
      if (plan_op_.def == t.def) plan_op_.def.reset();  // a made operation is no holder
      if (t.def.use_count() > 1) t.def = std::make_shared<TaskDefinition>(*t.def);
      t.def->created_ms = created;
      t.def->deadline_ms = deadline;
      t.def->expires_ms = 0;
      engine::FillDefaults(t.def.get());
      if (digest != nullptr) *digest = DefinitionDigestText(*t.def);
    }
    SendChainCreate(sub, static_cast<uint32_t>(k), 0);
  }
  // A create of the plan and its retries: the submission, the place in its chain and the
  // attempt are all it keeps (a SimClient::PlanCall, 16 bytes in the timers it waits in),
  // as a batch has every create in flight at once; its operation is made again from the
  // plan whenever it is needed (Op), the definition and its digest are the plan's.
  void SendChainCreate(uint32_t sub, uint32_t k, int attempt) {
    SimClient::PlanCall call{sub, k, static_cast<uint32_t>(attempt)};
    Invoked(Op(call));
    client_.Send(call);
  }
  const Operation& Op(const SimClient::PlanCall& call) override {
    const size_t task = workload_.submissions[call.sub].tasks[call.k];
    const PlannedTask& t = plan_[task];
    Operation& op = plan_op_;
    op.proc = ClientName(t.client);
    op.f = "create";
    op.def = t.def;  // op.task stays empty: TaskId() is the definition's
    op.digest = RepeatedDigest(call.sub, task);
    return op;
  }
  // The digest of a task its submission sends again and again (stamped, as sent; all '\0'
  // until its first create); null for any other task.
  DigestText* RepeatedDigest(uint32_t sub, size_t task) {
    if (workload_.submissions[sub].repeats <= 1) return nullptr;
    return &repeated_digests_[task];
  }
  void End(const SimClient::PlanCall& call, const Completion& c) override {
    Record(Op(call), c);
    plan_op_.def.reset();  // the plan's definition, held by the plan only again
    const uint32_t sub = call.sub, k = call.k;
    const int attempt = static_cast<int>(call.attempt);
    if (Retried(c, attempt, [this, sub, k, attempt] { SendChainCreate(sub, k, attempt + 1); }))
      return;
    creates_in_flight_--;
    const PlannedTask& t = plan_[workload_.submissions[sub].tasks[k]];
    if (c.type == EventType::kOk) LaterCalls(t, t.def);
    SubmitChain(sub, k + 1);
  }
  // A call whose outcome is unknown is sent again after the caller's backoff, up to
  // kMaxAttempts in all: true when it will be.
  template <typename F>
  bool Retried(const Completion& c, int attempt, F&& again) {
    if (!Transient(c.status) || attempt + 1 >= kMaxAttempts) return false;
    After(Backoff(attempt), std::forward<F>(again));
    return true;
  }

  // Sends a create, retrying it while the outcome is unknown; then(acknowledged). A probe
  // (BoundProbes) names what it probes in the history.
  using CreateThen = InlineFunction<void(bool), 48>;
  void SubmitCreate(std::shared_ptr<const TaskDefinition> def, int client, CreateThen then,
                    const BoundProbe* probe = nullptr) {
    SendCreate(
        std::make_shared<CreateJob>(CreateJob{std::move(def), client, 0, std::move(then), probe}));
  }
  // One create and its retries: made once, whatever the number of attempts.
  struct CreateJob {
    std::shared_ptr<const TaskDefinition> def;
    int client = 0, attempt = 0;
    CreateThen then;
    const BoundProbe* probe = nullptr;
  };
  void SendCreate(std::shared_ptr<CreateJob> job) {
    Operation op;
    op.proc = ClientName(job->client);
    op.f = "create";
    op.def = job->def;  // op.task stays empty: TaskId() is the definition's
    op.probe = job->probe;
    Call(std::move(op), [this, job = std::move(job)](const Completion& c) {
      if (Retried(c, job->attempt, [this, job] {
            ++job->attempt;
            SendCreate(job);
          }))
        return;
      job->then(c.type == EventType::kOk);
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
        def, 0, [this, k](bool) { SubmitProbe(k + 1); }, &probes_[k]);
  }

  // The client's calls on an acknowledged task that drive the queue's rules: the same
  // create again (OK), a create with one field changed (ALREADY_EXISTS), cancel, rerun.
  // The run does not end while any of them is still to come (later_calls_).
  void LaterCalls(const PlannedTask& t, std::shared_ptr<const TaskDefinition> def) {
    const int client = t.client;
    if (t.recreate_after_ms >= 0) {
      std::string field;
      // From the plan's definition without the expiry filled in (the planner never sets
      // one): a changed deadline moves the expiry with it.
      TaskDefinition sent = *t.def;
      sent.expires_ms = 0;
      auto changed =
          std::make_shared<const TaskDefinition>(ChangedDefinition(sent, t.ordinal, &field));
      later_calls_++;
      After(t.recreate_after_ms, [this, def, changed, client] {
        SubmitCreate(def, client, [this, changed, client](bool) {
          SubmitCreate(changed, client, [this](bool) { later_calls_--; });
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

  // "client-N", kept for the run (an operation views it; a deque never moves its names).
  std::string_view ClientName(int client) {
    while (client_names_.size() <= static_cast<size_t>(client))
      client_names_.push_back("client-" + std::to_string(client_names_.size()));
    return client_names_[static_cast<size_t>(client)];
  }

  // cancel or rerun, retried while the outcome is unknown (both are idempotent).
  void SubmitTaskCall(const char* f, std::string task, int client, int attempt) {
    Operation op;
    op.proc = ClientName(client);
    op.f = f;
    op.task = task;
    Call(std::move(op), [this, f, task, client, attempt](const Completion& c) {
      if (Retried(c, attempt, [this, f, task, client, attempt] {
            SubmitTaskCall(f, task, client, attempt + 1);
          }))
        return;
      later_calls_--;
    });
  }

  // Creates or removes a hook, retrying while the outcome is unknown (both are idempotent:
  // the same definition again is OK; a second removal is NOT_FOUND).
  void SubmitHook(size_t h, std::shared_ptr<const engine::HookDefinition> def, const char* f,
                  int attempt) {
    Operation op;
    op.proc = ClientName(workload_.hooks[h].client);
    op.f = f;
    op.hook = def;
    Call(std::move(op), [this, h, def, f, attempt](const Completion& c) {
      const bool creating = std::string_view(f) == "create-hook";
      // The creation gives up at the hook's removal time: no hook is made after it.
      const bool late = creating && Now() >= kEpochMs + workload_.hooks[h].until_ms;
      if (!late &&
          Retried(c, attempt, [this, h, def, f, attempt] { SubmitHook(h, def, f, attempt + 1); }))
        return;
      if (!creating) return;
      hook_creating_[h] = false;
      if (hook_remove_waiting_[h]) SubmitHook(h, def, "remove-hook", 0);
    });
  }

  // The parsed program of a task: planned tasks are parsed once at planning time; a task
  // the plan does not know (a platform that invents ids) is fetched and parsed once.
  TaskProgram ProgramOf(const std::string& task) override {
    if (const uint32_t k = program_index_.Find(task, PlannedId()); k != engine::TaskIdIndex::kNone)
      return TaskProgram{plan_[k].program, plan_[k].ProgramOrdinal()};
    auto it = programs_.find(task);
    if (it != programs_.end()) return it->second;
    auto def = target_.Up()
                   ? target_.queue().GetTask(task)
                   : engine::Result<engine::TaskDefinitionPtr>(Status::Unavailable("down"));
    auto parsed = std::make_shared<const ParsedProgram>(
        worker::ParsePayload(def.ok() ? (*def)->payload : ""));
    programs_.emplace(task, TaskProgram{parsed, -1});
    return TaskProgram{parsed, -1};
  }

  // ---------------------------------------------------------------- faults
  void ScheduleFaults() {
    for (const FaultEdge& edge : FaultSchedule(s_.faults)) {
      At(kEpochMs + edge.at_ms,
         [this, &f = s_.faults[edge.fault], start = edge.start] { Fault(f, start); });
    }
    last_event_ms_ = std::max(last_event_ms_, LastFaultEndMs(s_.faults));
  }

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

  // ---------------------------------------------------------------- the end
  void CheckQuiescent() {
    if (Now() < kEpochMs + last_event_ms_ || creates_in_flight_ > 0 || later_calls_ > 0 ||
        !target_.Up())
      return;
    if (Now() < latest_deadline_ms_ + 2 * kTickMs) return;
    auto counts = target_.queue().CountByState();
    const int busy = workers_.Busy();
    if (counts[static_cast<int>(engine::TaskState::kPending)] == 0 &&
        counts[static_cast<int>(engine::TaskState::kRunning)] == 0 && busy == 0) {
      loop_.Stop();
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
    for (const PlannedTask& t : plan_) ids.push_back(&t.def->task_id);
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
  std::string invoke_value_;  // InvokeValue's buffer
  Operation plan_op_;         // the operation of a plan's create (Op), made again each time
  TimerLoop loop_;
  SimNetwork network_;
  SimDisk disk_;
  SimSink sink_;
  Rng client_rng_;
  SimSummary summary_;
  InProcessEngine target_;
  SimClient client_;
  SimWorkers workers_;
  SimNemesis nemesis_;
  int64_t last_event_ms_ = 0;
  Workload workload_;
  std::vector<PlannedTask>& plan_ = workload_.tasks;
  // The plan's tasks by id (an index into plan_: no copy of the ids), and the programs of
  // tasks the plan does not know, fetched once.
  engine::TaskIdIndex program_index_;
  struct PlannedIdOf {
    const std::vector<PlannedTask>* plan;
    std::string_view operator()(uint32_t k) const { return (*plan)[k].def->task_id; }
  };
  PlannedIdOf PlannedId() const { return PlannedIdOf{&plan_}; }
  std::unordered_map<std::string, TaskProgram> programs_;
  int64_t creates_in_flight_ = 0;
  std::deque<std::string> client_names_;
  int64_t later_calls_ = 0;  // re-creates, cancels and reruns still to be answered
  static constexpr int64_t kProbeAtMs = 1'000;
  std::vector<BoundProbe> probes_;  // the bound probes (bound_probes), made at kProbeAtMs
  std::vector<bool> hook_creating_, hook_remove_waiting_;  // per planned hook
  // Per planned task of a repeated submission (a cron filler's): the digest of the
  // definition its client sends.
  std::unordered_map<size_t, DigestText> repeated_digests_;
  // The run ends no earlier than the latest deadline that falls before its hard end, so a
  // task blocked until its deadline is judged after it.
  int64_t hard_end_ms_ = INT64_MAX, latest_deadline_ms_ = 0;
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
