// SqliteStore: the real engine's durable store. One SQLite database in WAL mode with
// synchronous=FULL (every commit fsyncs the WAL), a versioned schema (PRAGMA
// user_version), and all file I/O through the libfiu VFS shim (engine/fault_points.h).
//
// Group commit: the first waiter becomes the leader and writes every batch submitted so
// far in one transaction with one fsync; the others wait for it. With group_commit off,
// each batch is its own transaction (for comparison in benchmarks).
//
// Failure: see engine/store.h. A write error rolls the transaction back and fails the
// pipeline until Recover(); an fsync error also closes the database, and Recover() reopens
// it (SQLite replays the WAL) and checkpoints it before any new write.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ithappens::engine {

struct SqliteStoreOptions {
  bool group_commit = true;
  size_t max_group_batches = 4096;  // bound on batches in one transaction
  bool sync_off = false;  // the fsync-off bug switch: synchronous=OFF (never in production)
};

class SqliteStore final : public Store {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens (creating if needed) the database at path; recovers it if it was not closed.
  static Result<std::unique_ptr<SqliteStore>> Open(std::string path,
                                                   SqliteStoreOptions options = {});
  ~SqliteStore() override;

  Status Load(StoreVisitor& v) override;
  uint64_t Submit(WriteBatch& batch) override;
  Status WaitDurable(uint64_t seq) override;
  Status Recover() override;
  std::string_view Name() const override { return path_; }

  struct Counters {
    uint64_t transactions = 0;
    uint64_t batches = 0;
    uint64_t failed_transactions = 0;
  };
  Counters counters() const;

 private:
  SqliteStore(std::string path, SqliteStoreOptions options);
  Status OpenDb();
  void CloseDb();
  Status Exec(const char* sql);
  Status Prepare();
  Status WriteGroup(const std::vector<WriteBatch>& group, bool* fsync_failed);
  Status WriteBatchRows(const WriteBatch& b);
  bool IsFailedLocked(uint64_t seq) const;
  Status SqlError(const char* what, int rc) const;

  const std::string path_;
  const SqliteStoreOptions options_;
  sqlite3* db_ = nullptr;  // used by the leader only (or under mu_ when no leader)
  sqlite3_stmt* insert_task_ = nullptr;
  sqlite3_stmt* upsert_run_ = nullptr;
  sqlite3_stmt* update_retries_ = nullptr;
  sqlite3_stmt* upsert_hook_ = nullptr;
  sqlite3_stmt* delete_hook_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, WriteBatch>> pending_;
  uint64_t submitted_seq_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t failed_from_ = 0;  // 0 = healthy
  bool poisoned_ = false;     // an fsync failed: closed until Recover
  bool leader_active_ = false;
  std::string failure_;  // why the pipeline failed
  std::vector<std::pair<uint64_t, uint64_t>> failed_ranges_;
  Counters counters_;
};

}  // namespace ithappens::engine
