// Proves crash recovery: every acknowledged change survives and nothing unacknowledged is
// half-applied. MemoryStore: random operations under a seeded schedule of write and fsync
// faults (libfiu external callbacks) and crashes must end in exactly the state of a
// fault-free replay of the acknowledged operations. SqliteStore: a child process running
// random operations is SIGKILLed at a random point; the reopened database must hold the
// state after exactly the acknowledged operations, or after one more (the one in flight).
#include <fiu-control.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "engine/fault_points.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

constexpr TimeMs kLeaseMs = 60'000;

struct Op {
  int kind;  // 0 create, 1 claim, 2 report, 3 advance+tick, 4 rerun, 5 cancel, 6 crash
  int a;
  int b;
};

rc::Gen<Op> GenOp(bool with_crash) {
  return rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::weightedOneOf<int>(
                                                        {{4, rc::gen::just(0)},
                                                         {3, rc::gen::just(1)},
                                                         {4, rc::gen::just(2)},
                                                         {2, rc::gen::just(3)},
                                                         {1, rc::gen::just(4)},
                                                         {1, rc::gen::just(5)},
                                                         {with_crash ? 1 : 0, rc::gen::just(6)}})),
                            rc::gen::set(&Op::a, rc::gen::inRange(0, 1000)),
                            rc::gen::set(&Op::b, rc::gen::inRange(0, 1000)));
}

// Interprets operations against one queue. Deterministic given the queue's state.
class Driver {
 public:
  Driver(Queue* q, ManualClock* clock) : q_(q), clock_(clock) {}
  void Reset(Queue* q) { q_ = q; }

  // Runs op number i; returns the answer of the changing call. With execute false only
  // the bookkeeping happens (ids handed out, clock moved), so a reference queue can skip
  // a call that the system under test did not acknowledge.
  Status Apply(int i, const Op& op, const std::function<void(bool)>& faults, bool execute = true) {
    if (!execute) {
      if (op.kind == 0) created_.push_back(static_cast<uint32_t>(i + 1));
      if (op.kind == 3) clock_->AdvanceMs(op.a % 2 == 0 ? kLeaseMs : 7 * 60'000);
      return Status::Ok();
    }
    switch (op.kind) {
      case 0: {
        std::vector<std::string> deps;
        if (!created_.empty() && op.a % 3 == 0)
          deps.push_back(TaskId(created_[op.a % created_.size()]));
        TaskDefinition d = MakeTask(static_cast<uint32_t>(i + 1), clock_->NowMs(), deps);
        d.retries = op.b % 3;
        created_.push_back(static_cast<uint32_t>(i + 1));
        return Guarded(faults, [&] { return q_->CreateTask(d); });
      }
      case 1: {
        std::vector<Claim> claims;
        return Guarded(faults, [&] {
          return q_->ClaimWork("group", "w" + std::to_string(op.a % 3), 1 + op.b % 3, &claims);
        });
      }
      case 2:
      case 4:
      case 5: {
        if (created_.empty()) return Status::Ok();
        std::string id = TaskId(created_[op.a % created_.size()]);
        if (op.kind == 4) return Guarded(faults, [&] { return q_->RerunTask(id); });
        if (op.kind == 5) return Guarded(faults, [&] { return q_->CancelTask(id); });
        TaskStatus s;
        Status st = q_->GetStatus(id, &s);
        if (!st.ok() || s.runs.empty() || !s.runs.back().worker) return st;
        std::string worker = s.runs.back().worker->id;
        RunRef ref{id, s.runs.back().run_id, "group", worker};
        return Guarded(faults, [&] {
          switch (op.b % 3) {
            case 0:
              return q_->ReportCompleted(ref);
            case 1:
              return q_->ReportFailed(ref);
            default:
              return q_->ReportException(ref, ReasonResolved::kWorkerShutdown);
          }
        });
      }
      case 3: {
        clock_->AdvanceMs(op.a % 2 == 0 ? kLeaseMs : 7 * 60'000);
        return Guarded(faults, [&] { return q_->Tick().status(); });
      }
      default:
        return Status::Ok();  // crash: handled by the caller
    }
  }

 private:
  template <typename F>
  Status Guarded(const std::function<void(bool)>& faults, F&& call) {
    if (faults) faults(true);
    Status st = call();
    if (faults) faults(false);
    return st;
  }
  Queue* q_;
  ManualClock* clock_;
  std::vector<uint32_t> created_;
};

std::string Snapshot(Queue& q) {
  std::ostringstream out;
  std::string cont;
  do {
    auto page = q.ListTaskGroup(TaskId(0), cont, 1000);
    if (!page.ok()) {
      out << "[" << page.status().ToString() << "]";
      break;
    }
    for (const auto& s : page->tasks) {
      out << s.task_id << " " << ToString(s.state) << " left=" << s.retries_left;
      for (const auto& r : s.runs) {
        out << " [" << r.run_id << " " << ToString(r.state) << " " << ToString(r.reason_created)
            << " " << ToString(r.reason_resolved) << " " << (r.worker ? r.worker->id : "-") << " "
            << r.taken_until_ms << " " << r.scheduled_ms << " " << r.started_ms << " "
            << r.resolved_ms << "]";
      }
      out << "\n";
    }
    cont = page->continuation;
  } while (!cont.empty());
  return out.str();
}

// ---- MemoryStore under faults and crashes

bool g_fail_write = false;
bool g_fail_fsync = false;
int FailWrite(const char*, int*, void**, unsigned int*) { return g_fail_write ? 1 : 0; }
int FailFsync(const char*, int*, void**, unsigned int*) { return g_fail_fsync ? 1 : 0; }

RC_GTEST_PROP(CrashRecovery, MemoryStoreKeepsExactlyTheAcknowledgedChanges, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(GenOp(/*with_crash=*/true));
  // Per op: 0-1 no fault, 2 write fault, 3 fsync fault.
  const auto faults = *rc::gen::container<std::vector<int>>(ops.size(), rc::gen::inRange(0, 4));
  InitFaultPoints();
  fiu_enable_external(kFaultStoreWrite, 1, nullptr, 0, FailWrite);
  fiu_enable_external(kFaultStoreFsync, 1, nullptr, 0, FailFsync);

  QueueOptions o;
  o.claim_timeout_ms = kLeaseMs;
  TestQueue sut(StoreKind::kMemory, o), ref(StoreKind::kMemory, o);
  Driver d_sut(&sut.q(), &sut.clock()), d_ref(&ref.q(), &ref.clock());
  int acked = 0, failed = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == 6) {
      sut.CrashAndReopen();
      d_sut.Reset(&sut.q());
      continue;
    }
    int f = faults[i];
    Status st = d_sut.Apply(static_cast<int>(i), ops[i], [f](bool on) {
      g_fail_write = on && f == 2;
      g_fail_fsync = on && f == 3;
    });
    const bool acknowledged = st.code() != StatusCode::kUnavailable;
    (acknowledged ? acked : failed)++;
    Status ref_st = d_ref.Apply(static_cast<int>(i), ops[i], nullptr, acknowledged);
    if (acknowledged) RC_ASSERT(ref_st.ToString() == st.ToString());
  }
  fiu_disable(kFaultStoreWrite);
  fiu_disable(kFaultStoreFsync);
  sut.CrashAndReopen();
  RC_TAG(failed > 0 ? "with faults" : "no faults");
  RC_ASSERT(Snapshot(sut.q()) == Snapshot(ref.q()));
}

// ---- SqliteStore under SIGKILL

// The child: runs ops on the database, writes one byte per acknowledged op, never returns.
[[noreturn]] void RunChild(const std::string& path, const std::vector<Op>& ops, int ack_fd) {
  ManualClock clock(kStartMs);
  auto store = SqliteStore::Open(path);
  if (!store.ok()) _exit(3);
  QueueOptions o;
  o.claim_timeout_ms = kLeaseMs;
  ApplyBugFromEnv(&o);
  auto q = Queue::Open(store.value().get(), &clock, o);
  if (!q.ok()) _exit(3);
  Driver d(q.value().get(), &clock);
  for (size_t i = 0; i < ops.size(); ++i) {
    (void)d.Apply(static_cast<int>(i), ops[i], nullptr);
    char b = 1;
    if (write(ack_fd, &b, 1) != 1) _exit(4);
  }
  while (true) pause();  // wait for the SIGKILL
}

RC_GTEST_PROP(CrashRecovery, SqliteSurvivesSigkillAtAnyPoint, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(GenOp(/*with_crash=*/false));
  const size_t kill_after = *rc::gen::inRange<size_t>(0, ops.size() + 1);

  // Reference states after 0..n ops, and the clock after each, on a fault-free MemoryStore.
  QueueOptions o;
  o.claim_timeout_ms = kLeaseMs;
  TestQueue ref(StoreKind::kMemory, o);
  Driver d_ref(&ref.q(), &ref.clock());
  std::vector<std::string> states{Snapshot(ref.q())};
  std::vector<TimeMs> clocks{ref.clock().NowMs()};
  for (size_t i = 0; i < ops.size(); ++i) {
    (void)d_ref.Apply(static_cast<int>(i), ops[i], nullptr);
    states.push_back(Snapshot(ref.q()));
    clocks.push_back(ref.clock().NowMs());
  }

  TempDir dir;
  const std::string path = (dir.path() / "kill.db").string();
  int fds[2];
  RC_ASSERT(pipe(fds) == 0);
  pid_t child = fork();
  RC_ASSERT(child >= 0);
  if (child == 0) {
    close(fds[0]);
    RunChild(path, ops, fds[1]);
  }
  close(fds[1]);
  size_t acks = 0;
  char b;
  while (acks < kill_after && read(fds[0], &b, 1) == 1) ++acks;
  kill(child, SIGKILL);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  while (read(fds[0], &b, 1) == 1) ++acks;  // acks written before the kill landed
  close(fds[0]);
  RC_ASSERT(WIFSIGNALED(wstatus));

  ManualClock clock(clocks[acks]);
  auto store = SqliteStore::Open(path);
  RC_ASSERT(store.ok());
  auto q = Queue::Open(store.value().get(), &clock, o);
  RC_ASSERT(q.ok());
  std::string recovered = Snapshot(*q.value());
  bool is_acked_state = recovered == states[acks];
  bool is_next_state = acks < ops.size() && recovered == states[acks + 1];
  RC_TAG(is_acked_state ? "state = acknowledged" : "state = one more (in flight)");
  if (!is_acked_state && !is_next_state) {
    RC_FAIL("after " + std::to_string(acks) + " acknowledged ops the database holds:\n" +
            recovered + "expected:\n" + states[acks]);
  }
}

}  // namespace
}  // namespace ithappens::testing
