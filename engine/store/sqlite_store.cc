#include "engine/sqlite_store.h"

#include <sqlite3.h>

#include "engine/store/codec.h"
#include "engine/store/fiu_vfs.h"

namespace ithappens::engine {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  seq          INTEGER PRIMARY KEY,     -- creation order
  task_id      TEXT NOT NULL UNIQUE,
  definition   TEXT NOT NULL,           -- JSON, Taskcluster field names
  retries_left INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  task_id         TEXT NOT NULL,
  run_id          INTEGER NOT NULL,
  state           TEXT NOT NULL,
  reason_created  TEXT NOT NULL,
  reason_resolved TEXT NOT NULL,
  worker_group    TEXT,
  worker_id       TEXT,
  taken_until     INTEGER NOT NULL,
  scheduled       INTEGER NOT NULL,
  started         INTEGER NOT NULL,
  resolved        INTEGER NOT NULL,
  PRIMARY KEY (task_id, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hooks (
  hook_id    TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  last_fire  INTEGER NOT NULL
);
)sql";

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt& Text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }

 private:
  sqlite3_stmt* s_;
};

std::string_view ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i))};
}

}  // namespace

SqliteStore::SqliteStore(std::string path, SqliteStoreOptions options)
    : path_(std::move(path)), options_(options) {}

SqliteStore::~SqliteStore() { CloseDb(); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(std::string path,
                                                       SqliteStoreOptions options) {
  if (options.max_group_batches == 0) {
    return Status::InvalidArgument("max_group_batches: must be at least 1");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(path), options));
  ITHAPPENS_RETURN_IF_ERROR(store->OpenDb());
  return store;
}

Status SqliteStore::SqlError(const char* what, int rc) const {
  std::string msg = std::string("sqlite ") + what + " on " + path_ + ": " + sqlite3_errstr(rc);
  if (db_ != nullptr) {
    msg += " (";
    msg += sqlite3_errmsg(db_);
    msg += ")";
  }
  // Every I/O-class failure is UNAVAILABLE: the caller may retry after recovery.
  int primary = rc & 0xff;
  if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL ||
      primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_READONLY) {
    return Status::Unavailable(msg);
  }
  return Status::Internal(msg);
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqlError(sql, rc);
  return Status::Ok();
}

Status SqliteStore::OpenDb() {
  if (int rc = RegisterFiuVfs(); rc != SQLITE_OK) return SqlError("register VFS", rc);
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kFiuVfsName);
  if (rc != SQLITE_OK) {
    Status st = SqlError("open", rc);
    CloseDb();
    return st;
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 5000);
  Status st = [&]() -> Status {
    ITHAPPENS_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    ITHAPPENS_RETURN_IF_ERROR(
        Exec(options_.sync_off ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=FULL"));
    // Verify WAL took effect (it cannot on some file systems); durability rests on it.
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "PRAGMA journal_mode", -1, &s, nullptr);
    std::string mode;
    if (s && sqlite3_step(s) == SQLITE_ROW) mode = std::string(ColumnText(s, 0));
    sqlite3_finalize(s);
    if (mode != "wal") {
      return Status::Unavailable("sqlite on " + path_ + ": journal_mode is '" + mode +
                                 "', need wal");
    }
    int version = 0;
    sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &s, nullptr);
    if (s && sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > kSchemaVersion) {
      return Status::FailedPrecondition("store " + path_ + ": schema version " +
                                        std::to_string(version) + " is newer than this engine's (" +
                                        std::to_string(kSchemaVersion) + ")");
    }
    if (version == 0) {
      ITHAPPENS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
      Status created = Exec(kSchema);
      if (created.ok()) created = Exec("PRAGMA user_version=1");
      if (!created.ok()) {
        (void)Exec("ROLLBACK");
        return created;
      }
      ITHAPPENS_RETURN_IF_ERROR(Exec("COMMIT"));
    }
    // Start from a checkpointed WAL: after a crash (or fsyncgate) the WAL is replayed into
    // the database once, and new commits go to a fresh WAL.
    ITHAPPENS_RETURN_IF_ERROR(Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    return Prepare();
  }();
  if (!st.ok()) CloseDb();
  return st;
}

Status SqliteStore::Prepare() {
  auto prep = [&](const char* sql, sqlite3_stmt** out) -> Status {
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr);
    if (rc != SQLITE_OK) return SqlError("prepare", rc);
    return Status::Ok();
  };
  ITHAPPENS_RETURN_IF_ERROR(prep(
      "INSERT INTO tasks(task_id, definition, retries_left) VALUES(?1, ?2, ?3)", &insert_task_));
  ITHAPPENS_RETURN_IF_ERROR(
      prep("INSERT OR REPLACE INTO runs(task_id, run_id, state, reason_created, reason_resolved, "
           "worker_group, worker_id, taken_until, scheduled, started, resolved) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
           &upsert_run_));
  ITHAPPENS_RETURN_IF_ERROR(
      prep("UPDATE tasks SET retries_left = ?2 WHERE task_id = ?1", &update_retries_));
  ITHAPPENS_RETURN_IF_ERROR(
      prep("INSERT OR REPLACE INTO hooks(hook_id, definition, last_fire) VALUES(?1, ?2, ?3)",
           &upsert_hook_));
  ITHAPPENS_RETURN_IF_ERROR(prep("DELETE FROM hooks WHERE hook_id = ?1", &delete_hook_));
  return Status::Ok();
}

void SqliteStore::CloseDb() {
  for (sqlite3_stmt** s :
       {&insert_task_, &upsert_run_, &update_retries_, &upsert_hook_, &delete_hook_}) {
    sqlite3_finalize(*s);
    *s = nullptr;
  }
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

// ---------------------------------------------------------------- load

Status SqliteStore::Load(StoreVisitor& v) {
  std::lock_guard<std::mutex> lock(mu_);
  if (db_ == nullptr) return Status::Unavailable("sqlite " + path_ + ": closed after a failure");
  auto query = [&](const char* sql, auto&& row) -> Status {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc != SQLITE_OK) return SqlError("prepare load", rc);
    Status st;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      st = row(s);
      if (!st.ok()) break;
    }
    sqlite3_finalize(s);
    if (!st.ok()) return st;
    if (rc != SQLITE_DONE) return SqlError("load", rc);
    return Status::Ok();
  };
  ITHAPPENS_RETURN_IF_ERROR(
      query("SELECT definition FROM tasks ORDER BY seq", [&](sqlite3_stmt* s) {
        auto def = DecodeTaskDefinition(ColumnText(s, 0));
        if (!def.ok()) return def.status();
        return v.OnTask(std::make_shared<const TaskDefinition>(std::move(def).value()));
      }));
  ITHAPPENS_RETURN_IF_ERROR(query(
      "SELECT r.task_id, t.retries_left, r.run_id, r.state, r.reason_created, r.reason_resolved, "
      "r.worker_group, r.worker_id, r.taken_until, r.scheduled, r.started, r.resolved "
      "FROM runs r JOIN tasks t ON t.task_id = r.task_id ORDER BY t.seq, r.run_id",
      [&](sqlite3_stmt* s) {
        Run run;
        run.run_id = static_cast<uint32_t>(sqlite3_column_int64(s, 2));
        bool ok =
            Parse(ColumnText(s, 3), &run.state) && Parse(ColumnText(s, 4), &run.reason_created);
        std::string_view rr = ColumnText(s, 5);
        ok = ok && (rr.empty() || Parse(rr, &run.reason_resolved));
        if (!ok) return Status::Internal("store " + path_ + ": bad enum in runs row");
        if (sqlite3_column_type(s, 6) != SQLITE_NULL) {
          run.worker = std::make_shared<const WorkerIdentity>(
              WorkerIdentity{std::string(ColumnText(s, 6)), std::string(ColumnText(s, 7))});
        }
        run.taken_until_ms = sqlite3_column_int64(s, 8);
        run.scheduled_ms = sqlite3_column_int64(s, 9);
        run.started_ms = sqlite3_column_int64(s, 10);
        run.resolved_ms = sqlite3_column_int64(s, 11);
        return v.OnRun(ColumnText(s, 0), sqlite3_column_int(s, 1), run);
      }));
  return query("SELECT definition, last_fire FROM hooks ORDER BY hook_id", [&](sqlite3_stmt* s) {
    auto hook = DecodeHookDefinition(ColumnText(s, 0));
    if (!hook.ok()) return hook.status();
    return v.OnHook(std::make_shared<const HookDefinition>(std::move(hook).value()),
                    sqlite3_column_int64(s, 1));
  });
}

// ---------------------------------------------------------------- commit pipeline

uint64_t SqliteStore::Submit(WriteBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t seq = ++submitted_seq_;
  if (failed_from_ == 0) pending_.emplace_back(seq, std::move(batch));
  batch.Clear();
  return seq;
}

bool SqliteStore::IsFailedLocked(uint64_t seq) const {
  if (failed_from_ != 0 && seq >= failed_from_) return true;
  for (const auto& [a, b] : failed_ranges_) {
    if (seq >= a && seq <= b) return true;
  }
  return false;
}

Status SqliteStore::WaitDurable(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (IsFailedLocked(seq)) {
      return Status::Unavailable(failure_.empty() ? "sqlite store: batch lost in a failed commit"
                                                  : failure_);
    }
    if (seq <= durable_seq_) return Status::Ok();
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    // Become the leader: take the waiting batches (all, or one without group commit).
    leader_active_ = true;
    std::vector<WriteBatch> group;
    uint64_t first = pending_.front().first, last = first;
    size_t limit = options_.group_commit ? options_.max_group_batches : 1;
    while (!pending_.empty() && group.size() < limit) {
      last = pending_.front().first;
      group.push_back(std::move(pending_.front().second));
      pending_.pop_front();
    }
    lock.unlock();
    bool fsync_failed = false;
    Status st = WriteGroup(group, &fsync_failed);
    lock.lock();
    leader_active_ = false;
    if (st.ok()) {
      durable_seq_ = last;
      counters_.transactions++;
      counters_.batches += group.size();
    } else {
      counters_.failed_transactions++;
      failed_from_ = first;
      failure_ = st.message();
      pending_.clear();  // submitted after a failure: failed too
      // Never go on with a connection that saw an I/O error: never retry an fsync, and
      // after a failed write SQLite's view of its own files is not to be trusted (seen in
      // real mode: a claim committed after a write error was missing from the reload).
      // Recover reopens the database and reads back what is on disk.
      (void)fsync_failed;
      poisoned_ = true;
      CloseDb();
    }
    cv_.notify_all();
  }
}

Status SqliteStore::WriteGroup(const std::vector<WriteBatch>& group, bool* fsync_failed) {
  int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqlError("begin", rc);
  Status st;
  for (const WriteBatch& b : group) {
    st = WriteBatchRows(b);
    if (!st.ok()) break;
  }
  if (st.ok()) {
    rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::Ok();
    *fsync_failed = rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC;
    st = SqlError("commit", rc);
  }
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return st;
}

Status SqliteStore::WriteBatchRows(const WriteBatch& b) {
  for (const auto& t : b.tasks) {
    std::string json = EncodeTaskDefinition(*t);
    int rc = Stmt(insert_task_).Text(1, t->task_id).Text(2, json).Int(3, t->retries).Step();
    if (rc != SQLITE_DONE) return SqlError("insert task", rc);
  }
  for (const auto& r : b.runs) {
    const Run& run = r.run;
    Stmt s(upsert_run_);
    s.Text(1, r.task->task_id)
        .Int(2, run.run_id)
        .Text(3, ToString(run.state))
        .Text(4, ToString(run.reason_created))
        .Text(5, ToString(run.reason_resolved))
        .Int(8, run.taken_until_ms)
        .Int(9, run.scheduled_ms)
        .Int(10, run.started_ms)
        .Int(11, run.resolved_ms);
    if (run.worker) {
      s.Text(6, run.worker->group).Text(7, run.worker->id);
    } else {
      s.Null(6).Null(7);
    }
    int rc = s.Step();
    if (rc != SQLITE_DONE) return SqlError("upsert run", rc);
    rc = Stmt(update_retries_).Text(1, r.task->task_id).Int(2, r.retries_left).Step();
    if (rc != SQLITE_DONE) return SqlError("update retries", rc);
  }
  for (const auto& h : b.hooks) {
    int rc;
    if (h.last_fire_ms < 0) {
      rc = Stmt(delete_hook_).Text(1, h.hook->hook_id).Step();
    } else {
      std::string json = EncodeHookDefinition(*h.hook);
      rc = Stmt(upsert_hook_).Text(1, h.hook->hook_id).Text(2, json).Int(3, h.last_fire_ms).Step();
    }
    if (rc != SQLITE_DONE) return SqlError("write hook", rc);
  }
  return Status::Ok();
}

Status SqliteStore::Recover() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !leader_active_; });
  if (poisoned_ || db_ == nullptr) {
    CloseDb();
    ITHAPPENS_RETURN_IF_ERROR(OpenDb().WithContext("reopen after fsync failure"));
    poisoned_ = false;
  }
  // The queue reloads from what is committed now. A batch submitted before and not yet
  // committed (failed, or waiting for its group commit) is lost: committed after the
  // reload, it would bring back changes the reloaded queue does not hold (a claim it then
  // hands out again).
  if (submitted_seq_ > durable_seq_) {
    failed_ranges_.emplace_back(durable_seq_ + 1, submitted_seq_);
  }
  pending_.clear();
  failed_from_ = 0;
  failure_.clear();
  return Status::Ok();
}

SqliteStore::Counters SqliteStore::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace ithappens::engine
