// Real processes for integration tests: the engine, the sink and workers, each started
// from build/bin on a free loopback port (port 0 + --port-file), logging into the test's
// temporary directory. Every process is SIGKILLed and reaped when its handle goes away, so
// a failing test leaves nothing running.
#pragma once

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/queue_client.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to `output`.
  ChildProcess(std::vector<std::string> argv, const std::string& output);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128 + signal.
  int Wait();
  bool Exited();  // non-blocking

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

std::string BinPath(const std::string& name);
// The pids `pgrep -x name` lists. The kernel keeps 15 characters of a process's name
// (ithappens-engine is "ithappens-engin"): pgrep -x with the whole name finds nothing.
std::set<pid_t> Pgrep(const std::string& name);
// Waits up to timeout_ms for a port file and returns the port (-1 on timeout).
int WaitForPortFile(const std::string& path, int timeout_ms);

// An engine + sink + workers on one temporary directory.
class Cluster {
 public:
  Cluster();
  ~Cluster();
  const TempDir& dir() const { return dir_; }

  // Starts the engine; with port > 0 it listens there (a restart keeps the address).
  void StartEngine(std::vector<std::string> extra = {}, int port = 0);
  void StartSink(std::vector<std::string> extra = {});
  ChildProcess& StartWorker(const std::string& id, std::vector<std::string> extra = {});
  ChildProcess& engine() { return *engine_; }
  ChildProcess& worker(const std::string& id);
  void KillEngine(int sig);  // signal + reap
  std::string engine_address() const { return "127.0.0.1:" + std::to_string(engine_port_); }
  std::string sink_address() const { return "127.0.0.1:" + std::to_string(sink_port_); }
  int engine_port() const { return engine_port_; }
  std::string db_path() const { return (dir_.path() / "queue.db").string(); }
  std::string deliveries_path() const { return (dir_.path() / "deliveries.jsonl").string(); }

  rpc::QueueClient Client(rpc::RetryPolicy policy = TestPolicy());
  rpc::SinkClient Sink();
  static rpc::RetryPolicy TestPolicy();

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> engine_, sink_;
  std::vector<std::pair<std::string, std::unique_ptr<ChildProcess>>> workers_;
  int engine_port_ = 0, sink_port_ = 0, engine_starts_ = 0;
};

// Polls until every listed task satisfies done(status) or timeout_ms passes; returns the
// last statuses seen.
std::vector<engine::TaskStatus> AwaitTasks(
    rpc::QueueClient& client, const std::vector<std::string>& ids,
    const std::function<bool(const engine::TaskStatus&)>& done, int timeout_ms);

}  // namespace ithappens::testing
