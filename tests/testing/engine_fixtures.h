// Shared helpers for engine tests: deterministic task ids and definitions, temporary
// directories, and a queue on either store that a test can crash and reopen.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/memory_store.h"
#include "engine/queue.h"
#include "engine/sqlite_store.h"

namespace ithappens::testing {

using namespace ithappens::engine;

inline constexpr TimeMs kStartMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
inline constexpr TimeMs kHourMs = 3'600'000;

// A valid slug, distinct for every n.
std::string TaskId(uint32_t n);
TaskDefinition MakeTask(uint32_t n, TimeMs now_ms, std::vector<std::string> deps = {});

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

enum class StoreKind { kMemory, kSqlite };
std::string StoreKindName(StoreKind k);

// A queue on a store, with a manual clock. Crash() drops the queue (and for memory, the
// unsynced data; for SQLite, the connection without shutdown) and Reopen() recovers.
class TestQueue {
 public:
  explicit TestQueue(StoreKind kind, QueueOptions options = {}, SqliteStoreOptions sqlite = {});
  Queue& q() { return *queue_; }
  ManualClock& clock() { return clock_; }
  Store& store() { return *store_; }
  StoreKind kind() const { return kind_; }
  // Drops the queue and everything not durable, then opens a new queue on the same data.
  void CrashAndReopen();
  TaskStatus Status(const std::string& id);
  QueueOptions options;

 private:
  void OpenQueue();
  StoreKind kind_;
  SqliteStoreOptions sqlite_options_;
  TempDir dir_;
  ManualClock clock_{kStartMs};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Queue> queue_;
};

// Applies ITHAPPENS_TEST_ENGINE_BUG=NAME (if set) to options: a way to watch which tests
// catch a bug switch (docs/decisions.md lists the results).
void ApplyBugFromEnv(QueueOptions* options);

// Claims exactly one task for `worker` and returns it; fails the test if none.
Claim ClaimOne(Queue& q, const std::string& worker);
RunRef Ref(const std::string& task_id, uint32_t run_id, const std::string& worker);

}  // namespace ithappens::testing
