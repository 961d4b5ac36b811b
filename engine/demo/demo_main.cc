// ithappens-engine-demo: drives the reference engine through one small story on a real
// SQLite store, with a real libfiu fsync fault and a recovery, and prints what happened.
// It is what `make run` shows until the harness (`ithappens run`) lands.
#include <fiu-control.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/fault_points.h"
#include "engine/queue.h"
#include "engine/sqlite_store.h"

using namespace ithappens::engine;

namespace {

std::string Id(int n) {
  uint8_t bytes[16] = {0x64, 0x65, 0x6d, 0x6f};
  bytes[15] = static_cast<uint8_t>(n);
  return EncodeSlug(bytes);
}

TaskDefinition Task(int n, TimeMs now, std::vector<std::string> deps = {}) {
  TaskDefinition d;
  d.task_id = Id(n);
  d.task_group_id = Id(0);
  d.dependencies = std::move(deps);
  d.created_ms = now;
  d.deadline_ms = now + 3'600'000;
  d.payload = R"([{"exit":0}])";
  d.metadata.name = "demo-" + std::to_string(n);
  return d;
}

void Show(Queue& q, const char* label, int n) {
  TaskStatus s;
  if (!q.GetStatus(Id(n), &s).ok()) return;
  std::printf("  %-28s %s %-11s runs=%zu", label, s.task_id.c_str(),
              std::string(ToString(s.state)).c_str(), s.runs.size());
  if (!s.runs.empty() && s.runs.back().reason_resolved != ReasonResolved::kNone) {
    std::printf(" last=%s", std::string(ToString(s.runs.back().reason_resolved)).c_str());
  }
  if (s.blocked_by) std::printf(" blockedBy=%s", s.blocked_by->c_str());
  std::printf("\n");
}

int Fail(const Status& st) {
  std::fprintf(stderr, "demo: %s\n", st.ToString().c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = argc > 1 ? argv[1] : "out/engine-demo";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "queue.db").string();
  InitFaultPoints();
  ManualClock clock(1'700'000'000'000);
  auto store = SqliteStore::Open(db);
  if (!store.ok()) return Fail(store.status());
  auto opened = Queue::Open(store.value().get(), &clock,
                            QueueOptions{.claim_timeout_ms = 60'000, .bugs = {}, .bug_seed = 1});
  if (!opened.ok()) return Fail(opened.status());
  Queue* q = opened.value().get();
  const TimeMs now = clock.NowMs();

  std::printf("ithappens engine demo (store: %s)\n", db.c_str());
  std::printf("1. invoice pipeline: aggregate(1) -> create invoices(2) -> send(3); 1 fails\n");
  for (auto st : {q->CreateTask(Task(1, now)), q->CreateTask(Task(2, now, {Id(1)})),
                  q->CreateTask(Task(3, now, {Id(2)}))}) {
    if (!st.ok()) return Fail(st);
  }
  std::vector<Claim> claims;
  if (Status st = q->ClaimWork("demo", "worker-1", 10, &claims); !st.ok()) return Fail(st);
  if (Status st = q->ReportFailed({Id(1), 0, "demo", "worker-1"}); !st.ok()) return Fail(st);
  Show(*q, "aggregate (user failure)", 1);
  Show(*q, "create invoices", 2);
  Show(*q, "send", 3);

  std::printf("2. a worker dies holding a task: its lease expires, the task is retried\n");
  if (Status st = q->CreateTask(Task(4, now)); !st.ok()) return Fail(st);
  claims.clear();
  (void)q->ClaimWork("demo", "worker-2", 1, &claims);
  clock.AdvanceMs(61'000);
  (void)q->Tick();
  Show(*q, "after lease expiry", 4);
  claims.clear();
  (void)q->ClaimWork("demo", "worker-3", 1, &claims);
  Status stale = q->ReportCompleted({Id(4), 0, "demo", "worker-2"});
  std::printf("  late report from worker-2: %s\n", stale.ToString().c_str());
  (void)q->ReportCompleted({Id(4), 1, "demo", "worker-3"});
  Show(*q, "completed on worker-3", 4);

  std::printf("3. fsync fails (libfiu %s): nothing is acknowledged, the store reopens\n",
              kFaultStoreFsync);
  fiu_enable(kFaultStoreFsync, 1, nullptr, FIU_ONETIME);
  Status refused = q->CreateTask(Task(5, clock.NowMs()));
  std::printf("  createTask during the fault: %s\n", refused.ToString().c_str());
  Status retried = q->CreateTask(Task(5, clock.NowMs()));
  std::printf("  the client retries the same task: %s\n", retried.ToString().c_str());
  Show(*q, "retried task", 5);

  std::printf("4. crash: drop the queue and the store without shutdown, reopen from disk\n");
  opened.value().reset();
  store.value().reset();
  auto store2 = SqliteStore::Open(db);
  if (!store2.ok()) return Fail(store2.status());
  auto q2 = Queue::Open(store2.value().get(), &clock);
  if (!q2.ok()) return Fail(q2.status());
  auto counts = q2.value()->CountByState();
  std::printf(
      "  recovered: %lld tasks (unscheduled %lld, pending %lld, completed %lld, failed %lld)\n",
      static_cast<long long>(counts[0] + counts[1] + counts[2] + counts[3] + counts[4] + counts[5]),
      static_cast<long long>(counts[0]), static_cast<long long>(counts[1]),
      static_cast<long long>(counts[3]), static_cast<long long>(counts[4]));
  std::printf(
      "\nNext: the harness (`ithappens run scenarios/*.yaml`) drives this engine under\n"
      "faults at 1x/5x/50x load and checks the history. Database left at %s\n",
      db.c_str());
  return 0;
}
