#include "tests/testing/engine_fixtures.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace ithappens::testing {

std::string TaskId(uint32_t n) {
  uint8_t bytes[16] = {0x69, 0x74, 0x68, 0x61, 0x70, 0x70, 0x65, 0x6e};  // "ithappen"
  for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  return EncodeSlug(bytes);
}

TaskDefinition MakeTask(uint32_t n, TimeMs now_ms, std::vector<std::string> deps) {
  TaskDefinition d;
  d.task_id = TaskId(n);
  d.task_group_id = TaskId(0);
  d.dependencies = std::move(deps);
  d.created_ms = now_ms;
  d.deadline_ms = now_ms + 24 * kHourMs;
  d.payload = R"([{"exit":0}])";
  d.metadata.name = "task-" + std::to_string(n);
  return d;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("ithappens-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void ApplyBugFromEnv(QueueOptions* options) {
  if (const char* bug = std::getenv("ITHAPPENS_TEST_ENGINE_BUG"); bug && *bug) {
    auto st = EnableBugSwitch(bug, &options->bugs);
    if (!st.ok()) throw std::runtime_error(st.ToString());
  }
}

std::string StoreKindName(StoreKind k) { return k == StoreKind::kMemory ? "Memory" : "Sqlite"; }

TestQueue::TestQueue(StoreKind kind, QueueOptions opts, SqliteStoreOptions sqlite)
    : options(opts), kind_(kind), sqlite_options_(sqlite) {
  ApplyBugFromEnv(&options);
  if (kind == StoreKind::kMemory) {
    auto m = std::make_unique<MemoryStore>();
    m->SetSyncOff(options.bugs.fsync_off);
    store_ = std::move(m);
  } else {
    sqlite_options_.sync_off = options.bugs.fsync_off;
    auto s = SqliteStore::Open((dir_.path() / "queue.db").string(), sqlite_options_);
    if (!s.ok()) throw std::runtime_error(s.status().ToString());
    store_ = std::move(s).value();
  }
  OpenQueue();
}

void TestQueue::OpenQueue() {
  auto q = Queue::Open(store_.get(), &clock_, options);
  if (!q.ok()) throw std::runtime_error(q.status().ToString());
  queue_ = std::move(q).value();
}

void TestQueue::CrashAndReopen() {
  queue_.reset();
  if (kind_ == StoreKind::kMemory) {
    static_cast<MemoryStore*>(store_.get())->Crash();
  } else {
    store_.reset();  // closes the connection; nothing is flushed beyond what was committed
    auto s = SqliteStore::Open((dir_.path() / "queue.db").string(), sqlite_options_);
    if (!s.ok()) throw std::runtime_error(s.status().ToString());
    store_ = std::move(s).value();
  }
  OpenQueue();
}

TaskStatus TestQueue::Status(const std::string& id) {
  TaskStatus s;
  auto st = queue_->GetStatus(id, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

Claim ClaimOne(Queue& q, const std::string& worker) {
  std::vector<Claim> claims;
  auto st = q.ClaimWork("group", worker, 1, &claims);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(claims.size(), 1u) << "no pending task to claim";
  if (claims.empty()) return Claim{};
  return claims[0];
}

RunRef Ref(const std::string& task_id, uint32_t run_id, const std::string& worker) {
  return RunRef{task_id, run_id, "group", worker};
}

}  // namespace ithappens::testing
