// ithappens-engine: the reference engine as a gRPC server on a SqliteStore.
//
//   ithappens-engine --listen 127.0.0.1:7531 --db run/queue.db [--log run/logs/engine.log]
//                    [--claim-timeout-ms N] [--tick-ms N] [--fiu-fifo BASE]
//                    [--engine-bug NAME]... [--port-file PATH] [--no-group-commit]
//
// SIGTERM or SIGINT stops it gracefully (in-flight calls finish, then exit 0). After a
// SIGKILL, a restart on the same --db recovers everything acknowledged. Exit codes: 0 clean
// stop, 2 bad flags, 3 could not start (store or port), with the cause in the log.
#include <fiu-control.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <thread>

#include "engine/fault_points.h"
#include "engine/queue.h"
#include "engine/server/daemon.h"
#include "engine/server/queue_service.h"
#include "engine/sqlite_store.h"

using namespace ithappens;

int main(int argc, char** argv) {
  daemon::InstallTerminationHandler();
  CLI::App app{"ithappens reference engine (Taskcluster queue semantics) over gRPC"};
  std::string listen = "127.0.0.1:7531", db, log_path, fiu_fifo, port_file;
  int64_t claim_timeout_ms = 20 * 60 * 1000, tick_ms = 100;
  std::vector<std::string> bugs;
  bool no_group_commit = false;
  double time_scale = 1;
  int64_t time_origin_ms = 0;
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0 picks a free one)");
  app.add_option("--db", db, "SQLite database path (created if missing)")->required();
  app.add_option("--log", log_path, "log file (default: stderr)");
  app.add_option("--claim-timeout-ms", claim_timeout_ms, "lease of claimWork/reclaimTask")
      ->check(CLI::Range(int64_t{1}, int64_t{24} * 3600 * 1000));
  app.add_option("--tick-ms", tick_ms, "how often leases, deadlines and hooks are processed")
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
  app.add_option("--fiu-fifo", fiu_fifo, "libfiu remote control basename (fiu-ctrl -f BASE PID)");
  app.add_option("--engine-bug", bugs, "turn on a deliberate bug switch (self-validation only)");
  app.add_option("--port-file", port_file, "write the port served on to this file");
  app.add_flag("--no-group-commit", no_group_commit, "one transaction and fsync per change");
  app.add_option("--time-scale", time_scale,
                 "K engine seconds per wall second (real mode's time scale), 1..100000")
      ->check(CLI::Range(1.0, 100'000.0));
  app.add_option("--time-origin-ms", time_origin_ms,
                 "wall time the scaled clock counts from (the same for every process of a run; "
                 "default: now)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto log = daemon::MakeLogger("engine", log_path);
  engine::QueueOptions options;
  options.claim_timeout_ms = claim_timeout_ms;
  for (const auto& b : bugs) {
    engine::Status st = engine::EnableBugSwitch(b, &options.bugs);
    if (!st.ok()) {
      log->error("{}", st.ToString());
      std::fprintf(stderr, "ithappens-engine: %s\n", st.ToString().c_str());
      return 2;
    }
  }
  if (!fiu_fifo.empty()) {
    engine::InitFaultPoints();
    if (fiu_rc_fifo(fiu_fifo.c_str()) != 0) {
      log->error("--fiu-fifo {}: cannot create the control fifo", fiu_fifo);
      return 3;
    }
    log->info("libfiu remote control on {}-{}.in", fiu_fifo, getpid());
  }

  engine::SqliteStoreOptions store_options;
  store_options.group_commit = !no_group_commit;
  store_options.sync_off = options.bugs.fsync_off;
  auto store = engine::SqliteStore::Open(db, store_options);
  if (!store.ok()) {
    log->error("cannot open store: {}", store.status().ToString());
    return 3;
  }
  if (time_origin_ms == 0) time_origin_ms = engine::RealClock().NowMs();
  engine::ScaledClock clock(time_origin_ms, time_scale);
  auto queue = engine::Queue::Open(store.value().get(), &clock, options);
  if (!queue.ok()) {
    log->error("cannot recover queue: {}", queue.status().ToString());
    return 3;
  }
  int64_t tasks = 0;
  for (int64_t n : queue.value()->CountByState()) tasks += n;
  log->info("recovered {} tasks from {} (bugs: {})", tasks, db, options.bugs.ToString());

  server::QueueService service(queue.value().get(), db, log);
  server::EngineControlService control(&clock, log);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  // The queue caps its answers to fit this (engine/wire_size.h).
  builder.SetMaxReceiveMessageSize(static_cast<int>(engine::kMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(engine::kMaxMessageBytes));
  builder.RegisterService(&service);
  builder.RegisterService(&control);
  // The sync server runs each call on a polling thread and keeps at most MAX_POLLERS idle
  // ones: with the default (2) every call that waited for its group commit ended its
  // thread and the next call made one (clone, mmap, munmap: a quarter of the engine's CPU
  // with 16 clients). Idle threads wait on the completion queue and cost nothing.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    log->error("cannot listen on {}", listen);
    return 3;
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  log->info("serving on {}:{}", host, port);
  std::printf("ithappens-engine: serving on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  if (!port_file.empty()) {
    if (auto st = daemon::WritePortFile(port_file, port); !st.ok()) log->error("{}", st.ToString());
  }

  // The reaper/deadline/hook thread.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread ticker([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(tick_ms), [&] { return stopping; })) {
      lock.unlock();
      auto t = queue.value()->Tick();
      if (!t.ok()) {
        log->error("tick: {}", t.status().ToString());
      } else if (t->claims_expired + t->deadlines_exceeded + t->hook_tasks_created > 0) {
        log->info("tick: {} claims expired, {} deadlines exceeded, {} hook tasks",
                  t->claims_expired, t->deadlines_exceeded, t->hook_tasks_created);
      }
      lock.lock();
    }
  });

  int sig = daemon::WaitForTerminationSignal();
  log->info("signal {}: stopping", sig);
  // In-flight calls get a second to finish (they take milliseconds); idle client
  // connections would otherwise hold Shutdown until its deadline.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  cv.notify_all();
  ticker.join();
  // What group commit achieved: batches (one per durable call) per transaction (one fsync).
  const engine::SqliteStore::Counters c = store.value()->counters();
  log->info("stopped: {} transactions for {} batches ({} failed)", c.transactions, c.batches,
            c.failed_transactions);
  return 0;
}
