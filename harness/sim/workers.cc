#include "harness/sim/workers.h"

#include <optional>
#include <vector>

#include "harness/history/history.h"
#include "harness/load/workload.h"

namespace ithappens::harness {
namespace {

using engine::StatusCode;

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

}  // namespace

class SimWorkers::Impl {
 public:
  Impl(TimerLoop& loop, Driver& driver, SimSink& sink, const Scenario& s,
       const engine::BugSwitches& bugs)
      : loop_(loop), driver_(driver), sink_(sink), s_(s), bugs_(bugs) {}

  void Start() {
    // Never grown after: a call's operation views its worker's name.
    workers_.reserve(static_cast<size_t>(s_.workers));
    for (int w = 0; w < s_.workers; ++w) {
      workers_.push_back(SimWorker{w, "worker-" + std::to_string(w)});
      loop_.After(0, [this, w] { Poll(w); });
    }
  }
  void Crash(int w) { Kill(workers_[w]); }
  void Restart(int w) { Revive(workers_[w]); }
  void Pause(int w, int64_t until_ms) { workers_[w].paused_until = until_ms; }
  void Leak(int w, bool leaking) {
    workers_[w].leaking = leaking;
    workers_[w].leaked_runs = 0;
  }
  int Busy() const {
    int busy = 0;
    for (const auto& w : workers_) busy += w.running;
    return busy;
  }

 private:
  // Runs fn for worker w unless it crashed since (epoch) or defers it while paused. The
  // epoch's low 32 bits are enough to tell (a worker does not crash 2^32 times in a run)
  // and keep the timer inside a callback's inline bytes.
  template <typename F>
  void WorkerAt(int w, int64_t t, F fn) {
    const auto epoch = static_cast<uint32_t>(workers_[w].epoch);
    loop_.At(t, [this, w, epoch, fn = std::move(fn)]() mutable {
      SimWorker& wk = workers_[w];
      if (static_cast<uint32_t>(wk.epoch) != epoch || !wk.alive) return;
      if (loop_.Now() < wk.paused_until) return WorkerAt(w, wk.paused_until, std::move(fn));
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
      driver_.Call(std::move(op), [this, w, epoch](const Completion& c) {
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
    WorkerAt(w, loop_.Now() + s_.poll_ms * wk.idle_backoff, [this, w] { Poll(w); });
  }

  void StartTask(int w, const std::string& task, uint32_t run) {
    SimWorker& wk = workers_[w];
    wk.running++;
    const TaskProgram task_program = driver_.ProgramOf(task);
    const std::shared_ptr<const ParsedProgram>& parsed = task_program.parsed;
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
      Impl* sim;
      const Held& r;
      const std::shared_ptr<const ParsedProgram>& parsed;
      int64_t ordinal;  // TaskProgram::ordinal
      int64_t offset = 0, allocated_mb = 0;
      bool killed = false;  // its allocations reached the worker's memory: the OOM killer
      Host(Impl* s, const Held& held, const TaskProgram& p)
          : sim(s), r(held), parsed(p.parsed), ordinal(p.ordinal) {}
      bool Wait(const worker::Step& st) override {
        offset += st.value;
        return true;
      }
      bool Allocate(const worker::Step& st) override {
        allocated_mb += st.value;
        killed = allocated_mb >= sim->s_.worker_memory_mb;
        return !killed;
      }
      bool Effect(size_t k, const worker::Step&) override {
        // If the sink is down when the step runs, the worker gives up on this run with
        // intermittent-task (a downstream outage: the platform retries it).
        sim->WorkerAt(r->w, sim->loop_.Now() + offset,
                      [s = sim, r = r, parsed = parsed, k, ordinal = ordinal] {
                        s->Deliver(r, (*parsed)->steps[k], k, ordinal);
                      });
        return true;
      }
    } host(this, r, task_program);
    const std::optional<worker::Ending> end = worker::RunProgram(*program, run, host);
    if (host.killed) {
      // A poison pill: when it allocates, the kernel kills the worker with everything it
      // holds, and its supervisor restarts it (as a leak's OOM kill).
      WorkerAt(w, loop_.Now() + host.offset, [this, w] { OomKill(w); });
      return;
    }
    using engine::RunState;
    const RunState state = end ? end->state : RunState::kCompleted;
    Report(r,
           state == RunState::kCompleted ? "report-completed"
           : state == RunState::kFailed  ? "report-failed"
                                         : "report-exception",
           end ? end->reason : engine::ReasonResolved::kCompleted, host.offset);
  }

  // Step k of run r, an effect, reaches the sink (or the sink is down). ordinal: the
  // program's (TaskProgram).
  void Deliver(const Held& r, const worker::Step& st, size_t k, int64_t ordinal) {
    if (r->phase != RunPhase::kRunning) return;
    auto give_up = [&](const char* why) {
      driver_.Emit(workers_[r->w].name, EventType::kFail, "deliver", r->task, "", why);
      r->phase = RunPhase::kReporting;
      SendReport(r, "report-exception", engine::ReasonResolved::kIntermittentTask, 0);
    };
    if (sink_.Down(loop_.Now())) return give_up("effect sink unavailable");
    std::string key = engine::EffectKey(r->task, r->run, static_cast<int>(k), bugs_);
    std::string v = "{\"key\":";
    AppendJsonString(&v, key);
    v.append(",\"step\":")
        .append(std::to_string(k))
        .append(",\"run\":")
        .append(std::to_string(r->run));
    v.append(",\"channel\":");
    AppendJsonString(&v, st.channel);
    v.append(",\"to\":");
    AppendJsonString(&v, EffectTo(st, ordinal));
    const bool delivered = sink_.Deliver(key);
    v.append(delivered ? ",\"delivered\":true}" : ",\"delivered\":false}");
    driver_.Emit("sink", EventType::kEffect, "deliver", r->task, v);
    if (sink_.RunsOutOfMemory(loop_.Now())) {
      // The leak runs out: the sink dies after it delivered, before it answered. The
      // worker cannot know the message went out; the retry must not send it again (the
      // idempotency key is per task and step).
      driver_.Emit("nemesis", EventType::kFault, Name(FaultKindId::kSinkOom), "", "{\"target\":\"sink\"}");
      return give_up("effect sink died before answering (out of memory)");
    }
  }

  // Keeps the lease alive while the program runs: reclaims at half the lease.
  void ScheduleReclaim(const Held& r) {
    WorkerAt(r->w, loop_.Now() + s_.claim_timeout_ms / 2, [this, r] {
      if (r->phase != RunPhase::kRunning) return;
      driver_.Call(RunCall(r->w, "reclaim", r->task, r->run), [this, r](const Completion& c) {
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
    WorkerAt(r->w, loop_.Now() + offset, [this, r, f, reason] {
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
    driver_.Call(RunCall(r->w, f, r->task, r->run, reason),
         [this, r, f, reason, attempt, epoch](const Completion& c) {
           if (Transient(c.status) && attempt + 1 < kMaxAttempts) {
             WorkerAt(r->w, loop_.Now() + driver_.Backoff(attempt),
                      [this, r, f, reason, attempt] { SendReport(r, f, reason, attempt + 1); });
             return;
           }
           if (s_.late_calls && c.type == EventType::kOk) {
             // A second later: the same report again (OK: reports are idempotent) and a
             // reclaim of the run it ended (refused).
             WorkerAt(r->w, loop_.Now() + kLateCallMs, [this, r, f, reason] {
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
    loop_.After(100, [this, w, task = claimed.first, run = claimed.second] {
      for (const char* f : {"reclaim", "report-failed"})
        driver_.Call(RunCall(w, f, task, run), [](const Completion&) {});
    });
  }

  // One call of worker r->w about run r, sent once, whatever it is answered.
  static constexpr int64_t kLateCallMs = 1'000;
  void LateCall(const Held& r, const char* f, engine::ReasonResolved reason) {
    driver_.Call(RunCall(r->w, f, r->task, r->run, reason), [](const Completion&) {});
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
    OomKill(w);
  }

  // The kernel's OOM killer ends worker w; its supervisor restarts it kOomRestartMs later.
  void OomKill(int w) {
    SimWorker& wk = workers_[w];
    driver_.Emit("nemesis", EventType::kFault, Name(FaultKindId::kWorkerOom), "", "{\"target\":\"" + wk.name + "\"}");
    Kill(wk);
    loop_.At(loop_.Now() + kOomRestartMs, [this, w] {
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


  TimerLoop& loop_;
  Driver& driver_;
  SimSink& sink_;
  const Scenario& s_;
  const engine::BugSwitches& bugs_;
  std::vector<SimWorker> workers_;
};

SimWorkers::SimWorkers(TimerLoop& loop, Driver& driver, SimSink& sink, const Scenario& scenario,
                       const engine::BugSwitches& bugs)
    : impl_(std::make_unique<Impl>(loop, driver, sink, scenario, bugs)) {}
SimWorkers::~SimWorkers() = default;
void SimWorkers::Start() { impl_->Start(); }
void SimWorkers::Crash(int w) { impl_->Crash(w); }
void SimWorkers::Restart(int w) { impl_->Restart(w); }
void SimWorkers::Pause(int w, int64_t until_ms) { impl_->Pause(w, until_ms); }
void SimWorkers::Leak(int w, bool leaking) { impl_->Leak(w, leaking); }
int SimWorkers::Busy() const { return impl_->Busy(); }

}  // namespace ithappens::harness
