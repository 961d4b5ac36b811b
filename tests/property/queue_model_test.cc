// Proves the engine agrees with a naive reference model (queue_model.h) on random
// sequences of create / claim / reclaim / report / cancel / rerun / advance-clock / crash,
// on both stores: every answer's status code and every task's full state after every step.
#include "tests/property/queue_model.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>

namespace ithappens::testing {
namespace {

struct Sut {
  explicit Sut(StoreKind kind) : t(kind, Options()) {}
  static QueueOptions Options() {
    QueueOptions o;
    o.claim_timeout_ms = kModelLeaseMs;
    return o;
  }
  TestQueue t;
};

using Cmd = rc::state::Command<Model, Sut>;

// Runs one step on a copy of the model and on the engine, and compares both.
#define CHECK_STEP(model, sut, expected, actual)                            \
  do {                                                                      \
    RC_ASSERT(StatusCodeName((actual).code()) == StatusCodeName(expected)); \
    std::string diff = Diff(model, sut.t.q());                              \
    if (!diff.empty()) RC_FAIL(diff);                                       \
  } while (0)

int AnyTask(const Model& m) { return *rc::gen::inRange<int>(0, static_cast<int>(m.tasks.size())); }

struct CreateTask : Cmd {
  int n;
  MTask task;
  explicit CreateTask(const Model& m) {
    int existing = static_cast<int>(m.tasks.size());
    n = existing == 0 ? 0
                      : *rc::gen::weightedOneOf<int>(
                            {{4, rc::gen::just(existing)}, {1, rc::gen::inRange(0, existing)}});
    if (n < existing) {
      task = m.tasks[n];  // an idempotent retry, or (1 in 4) a conflicting one
      if (*rc::gen::inRange(0, 4) == 0) task.retries = (task.retries + 1) % 50;
      return;
    }
    task.created = m.now;
    task.deadline = m.now + *rc::gen::element<TimeMs>(10 * 60'000, 2 * kHourMs, 24 * kHourMs);
    task.retries = *rc::gen::inRange(0, 4);
    task.priority = *rc::gen::element(0, 6);
    task.requires_ = *rc::gen::element(Requires::kAllCompleted, Requires::kAllResolved);
    if (existing > 0) {
      int k = *rc::gen::inRange(0, std::min(existing, 3) + 1);
      for (int i = 0; i < k; ++i) task.deps.push_back(*rc::gen::inRange(0, existing));
      std::sort(task.deps.begin(), task.deps.end());
      task.deps.erase(std::unique(task.deps.begin(), task.deps.end()), task.deps.end());
    }
  }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(n <= static_cast<int>(m.tasks.size()));
    for (int d : task.deps) RC_PRE(d < n);
  }
  void apply(Model& m) const override { m.Create(n, task); }
  void run(const Model& m0, Sut& sut) const override {
    Model m = m0;
    StatusCode want = m.Create(n, task);
    TaskDefinition def = task.Definition(n);
    CHECK_STEP(m, sut, want, sut.t.q().CreateTask(def));
  }
  void show(std::ostream& os) const override {
    os << "CreateTask(" << n << ", deps=" << task.deps.size() << ", retries=" << task.retries
       << ")";
  }
};

struct ClaimWork : Cmd {
  int worker = *rc::gen::inRange(0, 3);
  int k = *rc::gen::inRange(1, 4);
  explicit ClaimWork(const Model&) {}
  void apply(Model& m) const override {
    std::vector<std::pair<int, int>> claimed;
    m.Claim(worker, k, &claimed);
  }
  void run(const Model& m0, Sut& sut) const override {
    Model m = m0;
    std::vector<std::pair<int, int>> want;
    StatusCode code = m.Claim(worker, k, &want);
    std::vector<Claim> got;
    Status st = sut.t.q().ClaimWork("group", WorkerName(worker), k, &got);
    RC_ASSERT(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      RC_ASSERT(got[i].task->task_id == TaskId(want[i].first));
      RC_ASSERT(static_cast<int>(got[i].run_id) == want[i].second);
    }
    CHECK_STEP(m, sut, code, st);
  }
  void show(std::ostream& os) const override { os << "ClaimWork(w" << worker << ", " << k << ")"; }
};

// A report or reclaim aimed at a real run, mostly by its real holder.
struct RunTarget {
  int task = 0, run = 0, worker = 0;
  explicit RunTarget(const Model& m) {
    task = AnyTask(m);
    const MTask& t = m.tasks[task];
    run = t.runs.empty() ? 0 : *rc::gen::inRange(0, static_cast<int>(t.runs.size()));
    int holder = t.runs.empty() ? -1 : t.runs[run].worker;
    worker = holder >= 0 && *rc::gen::inRange(0, 5) > 0 ? holder : *rc::gen::inRange(0, 3);
  }
};

struct Report : Cmd {
  RunTarget target;
  int kind = *rc::gen::inRange(0, 5);
  explicit Report(const Model& m) : target((RC_PRE(!m.tasks.empty()), m)) {}
  std::pair<RunState, ReasonResolved> Outcome() const {
    switch (kind) {
      case 0:
        return {RunState::kCompleted, ReasonResolved::kCompleted};
      case 1:
        return {RunState::kFailed, ReasonResolved::kFailed};
      case 2:
        return {RunState::kException, ReasonResolved::kWorkerShutdown};
      case 3:
        return {RunState::kException, ReasonResolved::kIntermittentTask};
      default:
        return {RunState::kException, ReasonResolved::kMalformedPayload};
    }
  }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(target.task < (int)m.tasks.size());
  }
  void apply(Model& m) const override {
    auto [o, r] = Outcome();
    m.Report(target.task, target.run, target.worker, o, r);
  }
  void run(const Model& m0, Sut& sut) const override {
    Model m = m0;
    auto [o, r] = Outcome();
    StatusCode want = m.Report(target.task, target.run, target.worker, o, r);
    std::string id = TaskId(target.task), w = WorkerName(target.worker);
    RunRef ref{id, static_cast<uint32_t>(target.run), "group", w};
    Status st = kind == 0   ? sut.t.q().ReportCompleted(ref)
                : kind == 1 ? sut.t.q().ReportFailed(ref)
                            : sut.t.q().ReportException(ref, r);
    CHECK_STEP(m, sut, want, st);
  }
  void show(std::ostream& os) const override {
    os << "Report(" << target.task << "/" << target.run << " by w" << target.worker << ", "
       << ToString(Outcome().second) << ")";
  }
};

struct Reclaim : Cmd {
  RunTarget target;
  explicit Reclaim(const Model& m) : target((RC_PRE(!m.tasks.empty()), m)) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(target.task < (int)m.tasks.size());
  }
  void apply(Model& m) const override { m.Reclaim(target.task, target.run, target.worker); }
  void run(const Model& m0, Sut& sut) const override {
    Model m = m0;
    StatusCode want = m.Reclaim(target.task, target.run, target.worker);
    std::string id = TaskId(target.task), w = WorkerName(target.worker);
    CHECK_STEP(
        m, sut, want,
        sut.t.q().ReclaimTask(RunRef{id, static_cast<uint32_t>(target.run), "group", w}, nullptr));
  }
  void show(std::ostream& os) const override {
    os << "Reclaim(" << target.task << "/" << target.run << " by w" << target.worker << ")";
  }
};

struct CancelOrRerun : Cmd {
  int task;
  bool cancel = *rc::gen::arbitrary<bool>();
  explicit CancelOrRerun(const Model& m) : task((RC_PRE(!m.tasks.empty()), AnyTask(m))) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(task < (int)m.tasks.size()); }
  void apply(Model& m) const override { cancel ? m.Cancel(task) : m.Rerun(task); }
  void run(const Model& m0, Sut& sut) const override {
    Model m = m0;
    StatusCode want = cancel ? m.Cancel(task) : m.Rerun(task);
    std::string id = TaskId(task);
    CHECK_STEP(m, sut, want, cancel ? sut.t.q().CancelTask(id) : sut.t.q().RerunTask(id));
  }
  void show(std::ostream& os) const override {
    os << (cancel ? "Cancel(" : "Rerun(") << task << ")";
  }
};

struct AdvanceClock : Cmd {
  TimeMs ms = *rc::gen::element<TimeMs>(1, 30'000, 60'000, 61'000, 15 * 60'000, 3 * kHourMs);
  explicit AdvanceClock(const Model&) {}
  void apply(Model& m) const override { m.Advance(ms); }
  void run(const Model& m0, Sut& sut) const override {
    Model m = m0;
    m.Advance(ms);
    sut.t.clock().AdvanceMs(ms);
    auto tick = sut.t.q().Tick();
    CHECK_STEP(m, sut, StatusCode::kOk, tick.status());
  }
  void show(std::ostream& os) const override { os << "Advance(" << ms << " ms)"; }
};

struct Crash : Cmd {
  explicit Crash(const Model&) {}
  void apply(Model&) const override {}
  void run(const Model& m, Sut& sut) const override {
    sut.t.CrashAndReopen();
    std::string diff = Diff(m, sut.t.q());
    if (!diff.empty()) RC_FAIL("after crash: " + diff);
  }
  void show(std::ostream& os) const override { os << "Crash"; }
};

void CheckAgainstModel(StoreKind kind) {
  Sut sut(kind);
  rc::state::check(
      Model{}, sut,
      rc::state::gen::execOneOfWithArgs<CreateTask, CreateTask, ClaimWork, ClaimWork, Report,
                                        Report, Reclaim, CancelOrRerun, AdvanceClock, Crash>());
}

RC_GTEST_PROP(QueueModel, MemoryStoreAgreesWithModel, ()) { CheckAgainstModel(StoreKind::kMemory); }
RC_GTEST_PROP(QueueModel, SqliteStoreAgreesWithModel, ()) { CheckAgainstModel(StoreKind::kSqlite); }

}  // namespace
}  // namespace ithappens::testing
