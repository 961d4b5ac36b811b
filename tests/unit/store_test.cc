// Proves the stores' durability contract with real libfiu failure points: a failed write
// or fsync acknowledges nothing and leaves nothing half-applied, an fsync failure refuses
// writes until recovery, group commit shares one transaction, and each point
// (open, read, write, fsync, truncate) reaches SQLite through the VFS shim.
#include <fiu-control.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "engine/fault_points.h"
#include "engine/store/codec.h"
#include "engine/wire_convert.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

class FaultGuard {
 public:
  explicit FaultGuard(const char* point, bool once = true) : point_(point) {
    InitFaultPoints();
    fiu_enable(point, 1, nullptr, once ? FIU_ONETIME : 0);
  }
  ~FaultGuard() { fiu_disable(point_); }

 private:
  const char* point_;
};

// Counts what Load replays.
struct Counter final : StoreVisitor {
  Status OnTask(TaskDefinitionPtr t) override {
    ids.push_back(t->task_id);
    return Status::Ok();
  }
  Status OnRun(std::string_view, int, const Run&) override {
    ++runs;
    return Status::Ok();
  }
  Status OnHook(std::shared_ptr<const HookDefinition>, TimeMs) override { return Status::Ok(); }
  std::vector<std::string> ids;
  int runs = 0;
};

// A batch creating task n with its first run; `index` is the position the store will give
// the task (its count of tasks so far).
WriteBatch BatchWithTask(uint32_t n, uint32_t index) {
  WriteBatch b;
  auto def = std::make_shared<const TaskDefinition>(MakeTask(n, kStartMs));
  b.tasks.push_back(def);
  Run r;
  r.scheduled_ms = kStartMs;
  b.runs.push_back(RunRecord{def, index, def->retries, r});
  return b;
}

std::vector<std::string> Loaded(Store& s) {
  Counter c;
  EXPECT_TRUE(s.Load(c).ok());
  return c.ids;
}

TEST(MemoryStore, CrashDropsUnsyncedAndKeepsSynced) {
  MemoryStore s;
  WriteBatch b1 = BatchWithTask(1, 0), b2 = BatchWithTask(2, 1);
  ASSERT_TRUE(s.WaitDurable(s.Submit(b1)).ok());
  s.Submit(b2);  // written, never synced
  EXPECT_EQ(Loaded(s).size(), 2u) << "a reader sees written data";
  s.Crash();
  EXPECT_EQ(Loaded(s), std::vector<std::string>{TaskId(1)});
  EXPECT_EQ(s.counters().writes_dropped_by_crash, 2u) << "task 2 and its run";
}

TEST(MemoryStore, WriteFaultFailsTheBatchAndEveryLaterOneUntilRecover) {
  MemoryStore s;
  uint64_t a, b;
  {
    FaultGuard f(kFaultStoreWrite);
    WriteBatch b1 = BatchWithTask(1, 0), b2 = BatchWithTask(2, 1);
    a = s.Submit(b1);
    b = s.Submit(b2);
  }
  EXPECT_EQ(s.WaitDurable(a).code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.WaitDurable(b).code(), StatusCode::kUnavailable) << "later batches fail too";
  ASSERT_TRUE(s.Recover().ok());
  EXPECT_EQ(s.WaitDurable(b).code(), StatusCode::kUnavailable) << "a failure stays a failure";
  WriteBatch b3 = BatchWithTask(3, 0);  // b1 and b2 never landed
  EXPECT_TRUE(s.WaitDurable(s.Submit(b3)).ok());
  EXPECT_EQ(Loaded(s), std::vector<std::string>{TaskId(3)});
}

TEST(MemoryStore, FsyncFaultRefusesWritesAndRecoveryDropsUnsynced) {
  MemoryStore s;
  WriteBatch b1 = BatchWithTask(1, 0), b2 = BatchWithTask(2, 1);
  uint64_t a = s.Submit(b1);
  {
    FaultGuard f(kFaultStoreFsync);
    EXPECT_EQ(s.WaitDurable(a).code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(s.WaitDurable(s.Submit(b2)).code(), StatusCode::kUnavailable)
      << "no write after a failed fsync until recovery";
  ASSERT_TRUE(s.Recover().ok());
  EXPECT_TRUE(Loaded(s).empty()) << "fsyncgate: unsynced pages are assumed lost";
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string Path() { return (dir_.path() / "q.db").string(); }
  std::unique_ptr<SqliteStore> Open(SqliteStoreOptions o = {}) {
    auto s = SqliteStore::Open(Path(), o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  TempDir dir_;
};

// A recovery reloads the queue from what the store holds. A batch submitted before it and
// not yet durable must then either be in what Load returns (and durable), or never become
// durable: the reloaded queue does not hold its changes, and a commit after the reload
// would bring back a claim the queue hands out again (seen in real mode: one run claimed by
// two workers, both acknowledged, when a stale failure triggered a recovery while another
// call's batch waited for its group commit).
void ExpectPendingBatchIsLoadedOrLost(Store& s) {
  WriteBatch b = BatchWithTask(1, 0);
  const uint64_t seq = s.Submit(b);
  ASSERT_TRUE(s.Recover().ok());
  const size_t loaded = Loaded(s).size();
  const bool durable = s.WaitDurable(seq).ok();
  EXPECT_EQ(durable, loaded == 1) << "durable " << durable << ", loaded " << loaded;
  EXPECT_EQ(Loaded(s).size(), loaded) << "nothing landed after the reload";
}

TEST(MemoryStore, ABatchPendingAtRecoveryIsLoadedOrLostNeverCommittedAfter) {
  MemoryStore s;
  ExpectPendingBatchIsLoadedOrLost(s);
}

TEST_F(SqliteStoreTest, ABatchPendingAtRecoveryIsLoadedOrLostNeverCommittedAfter) {
  auto s = Open();
  ExpectPendingBatchIsLoadedOrLost(*s);
}

TEST_F(SqliteStoreTest, GroupCommitWritesWaitingBatchesInOneTransaction) {
  auto s = Open();
  WriteBatch b[3] = {BatchWithTask(1, 0), BatchWithTask(2, 1), BatchWithTask(3, 2)};
  s->Submit(b[0]);
  s->Submit(b[1]);
  uint64_t last = s->Submit(b[2]);
  ASSERT_TRUE(s->WaitDurable(last).ok());
  EXPECT_EQ(s->counters().transactions, 1u);
  EXPECT_EQ(s->counters().batches, 3u);
  EXPECT_EQ(Loaded(*s).size(), 3u);
}

TEST_F(SqliteStoreTest, WithoutGroupCommitEveryBatchIsItsOwnTransaction) {
  auto s = Open(SqliteStoreOptions{.group_commit = false});
  WriteBatch b[3] = {BatchWithTask(1, 0), BatchWithTask(2, 1), BatchWithTask(3, 2)};
  s->Submit(b[0]);
  s->Submit(b[1]);
  uint64_t last = s->Submit(b[2]);
  ASSERT_TRUE(s->WaitDurable(last).ok());
  EXPECT_EQ(s->counters().transactions, 3u);
}

TEST_F(SqliteStoreTest, WriteFaultRollsBackTheWholeGroup) {
  auto s = Open();
  WriteBatch ok = BatchWithTask(1, 0);
  ASSERT_TRUE(s->WaitDurable(s->Submit(ok)).ok());
  WriteBatch b2 = BatchWithTask(2, 1), b3 = BatchWithTask(3, 2);
  s->Submit(b2);
  uint64_t last = s->Submit(b3);
  {
    // Fail every write: SQLite may buffer a small transaction in its page cache until
    // commit, so the first xWrite can come at any point of the commit.
    FaultGuard f(kFaultStoreWrite, /*once=*/false);
    Status st = s->WaitDurable(last);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("disk I/O error"), std::string::npos) << st.message();
  }
  ASSERT_TRUE(s->Recover().ok());
  s.reset();
  auto reopened = Open();
  EXPECT_EQ(Loaded(*reopened), std::vector<std::string>{TaskId(1)}) << "nothing half-applied";
}

TEST_F(SqliteStoreTest, FsyncFaultRefusesWritesUntilReopened) {
  auto s = Open();
  WriteBatch b1 = BatchWithTask(1, 0), b2 = BatchWithTask(2, 1), b3 = BatchWithTask(3, 2);
  {
    FaultGuard f(kFaultStoreFsync);
    EXPECT_EQ(s->WaitDurable(s->Submit(b1)).code(), StatusCode::kUnavailable);
  }
  Status refused = s->WaitDurable(s->Submit(b2));
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << "no retry of the fsync, no new writes";
  ASSERT_TRUE(s->Recover().ok());
  ASSERT_TRUE(s->WaitDurable(s->Submit(b3)).ok());
  auto ids = Loaded(*s);
  EXPECT_EQ(ids.back(), TaskId(3));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), TaskId(2)), 0) << "the refused batch never lands";
}

TEST_F(SqliteStoreTest, OpenFaultIsUnavailable) {
  FaultGuard f(kFaultStoreOpen);
  auto s = SqliteStore::Open(Path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
}

TEST_F(SqliteStoreTest, ReadFaultFailsOpeningAnExistingDatabase) {
  {
    auto s = Open();
    WriteBatch b = BatchWithTask(1, 0);
    ASSERT_TRUE(s->WaitDurable(s->Submit(b)).ok());
  }
  FaultGuard f(kFaultStoreRead, /*once=*/false);
  auto s = SqliteStore::Open(Path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
}

TEST_F(SqliteStoreTest, TruncateFaultFailsTheStartupCheckpoint) {
  auto writer = Open();  // keeps the WAL alive with frames in it
  WriteBatch b = BatchWithTask(1, 0);
  ASSERT_TRUE(writer->WaitDurable(writer->Submit(b)).ok());
  FaultGuard f(kFaultStoreTruncate, /*once=*/false);
  auto s = SqliteStore::Open(Path());
  ASSERT_FALSE(s.ok()) << "wal_checkpoint(TRUNCATE) must truncate the WAL";
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedNamingTheVersion) {
  Open().reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = SqliteStore::Open(Path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version 2"), std::string::npos);
}

// ---- the queue on top of a failing store ----

class QueueFaultTest : public ::testing::TestWithParam<StoreKind> {};

TEST_P(QueueFaultTest, FsyncFaultAcknowledgesNothingAndRetrySucceeds) {
  TestQueue t(GetParam());
  TaskDefinition d = MakeTask(1, kStartMs);
  EXPECT_FALSE(t.q().NeedsRecovery());
  {
    FaultGuard f(kFaultStoreFsync);
    Status st = t.q().CreateTask(d);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  }
  EXPECT_TRUE(t.q().NeedsRecovery()) << "a failed commit: the engine must recover first";
  Status retry = t.q().CreateTask(d);  // recovers the store first, then applies idempotently
  ASSERT_TRUE(retry.ok()) << retry.ToString();
  EXPECT_FALSE(t.q().NeedsRecovery());
  t.CrashAndReopen();
  EXPECT_EQ(t.Status(d.task_id).runs.size(), 1u);
}

TEST_P(QueueFaultTest, WriteFaultDuringClaimHandsOutNothing) {
  TestQueue t(GetParam());
  ASSERT_TRUE(t.q().CreateTask(MakeTask(1, kStartMs)).ok());
  std::vector<Claim> claims;
  {
    FaultGuard f(kFaultStoreWrite, /*once=*/false);
    EXPECT_EQ(t.q().ClaimWork("group", "w1", 1, &claims).code(), StatusCode::kUnavailable);
  }
  EXPECT_TRUE(claims.empty());
  EXPECT_EQ(t.Status(TaskId(1)).state, TaskState::kPending) << "memory rolled back to the store";
  EXPECT_EQ(ClaimOne(t.q(), "w2").run_id, 0u);
}

TEST_P(QueueFaultTest, UnsyncedStateIsNeverObservedAfterFsyncFailure) {
  TestQueue t(GetParam());
  ASSERT_TRUE(t.q().CreateTask(MakeTask(1, kStartMs)).ok());
  ClaimOne(t.q(), "w1");
  {
    FaultGuard f(kFaultStoreFsync);
    EXPECT_EQ(t.q().ReportCompleted(Ref(TaskId(1), 0, "w1")).code(), StatusCode::kUnavailable);
  }
  // The completion was not acknowledged: the worker retries it, and it lands once.
  TaskStatus s;
  ASSERT_TRUE(t.q().ReportCompleted(Ref(TaskId(1), 0, "w1"), &s).ok());
  EXPECT_EQ(s.state, TaskState::kCompleted);
  EXPECT_EQ(s.runs.size(), 1u);
}

TEST_P(QueueFaultTest, BatchIsAllOrNothingUnderAnFsyncFault) {
  TestQueue t(GetParam());
  std::vector<TaskDefinition> defs = {MakeTask(1, kStartMs), MakeTask(2, kStartMs)};
  std::vector<Status> results;
  {
    FaultGuard f(kFaultStoreFsync);
    EXPECT_EQ(t.q().CreateTasks(defs, &results).code(), StatusCode::kUnavailable);
  }
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results)
    EXPECT_EQ(r.code(), StatusCode::kUnavailable) << "nothing acknowledged";
  ASSERT_TRUE(t.q().CreateTasks(defs, &results).ok());
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.ToString();
  t.CrashAndReopen();
  EXPECT_EQ(t.Status(TaskId(2)).state, TaskState::kPending);
}

INSTANTIATE_TEST_SUITE_P(Stores, QueueFaultTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite),
                         [](const auto& info) { return StoreKindName(info.param); });

// A definition's rarely set texts (description, owner, source: one pointer each until
// set) are whole and independent in copies, compare by their text, and survive the
// store's encoding and the wire's conversion with every other field.
TEST(TaskDefinitionTexts, CopiesAreWholeAndEveryFieldSurvivesTheStoreAndTheWire) {
  engine::SparseText a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.view(), "");
  a = std::string("owner@example.com");
  engine::SparseText b = a;
  EXPECT_EQ(b.view(), "owner@example.com");
  a = "changed";
  EXPECT_EQ(b.view(), "owner@example.com") << "a copy is its own text";
  EXPECT_FALSE(a == b);
  b = a;
  EXPECT_TRUE(a == b);
  a = "";
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(a == engine::SparseText());

  TaskDefinition d = MakeTask(1, kStartMs);
  d.metadata.description = std::string(5000, 'd');
  d.metadata.owner = "owner@example.com";
  d.metadata.source = "https://example.com/source";
  for (int which = 0; which < 4; ++which) {
    TaskDefinition e = d;
    if (which == 1) e.metadata.description = "";
    if (which == 2) e.metadata.owner = "other@example.com";
    if (which == 3) e.metadata.source = "";
    EXPECT_EQ(e == d, which == 0) << which;
    auto decoded = engine::DecodeTaskDefinition(engine::EncodeTaskDefinition(e));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(decoded.value() == e) << which;
    v1::TaskDefinition wire;
    rpc::ToProto(e, &wire);
    TaskDefinition back;
    ASSERT_TRUE(rpc::FromProto(wire, &back).ok());
    EXPECT_TRUE(back == e) << which;
  }
}

}  // namespace
}  // namespace ithappens::testing
