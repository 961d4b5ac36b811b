#include "tests/integration/cluster.h"

#include <cstdio>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace ithappens::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& output) {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    // The parent (gtest) may have signals blocked in no thread; reset the mask anyway.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    Wait();
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int ChildProcess::Wait() {
  if (!reaped_) {
    waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

bool ChildProcess::Exited() {
  if (reaped_) return true;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

std::set<pid_t> Pgrep(const std::string& name) {
  std::set<pid_t> pids;
  FILE* p = popen(("pgrep -x " + name.substr(0, 15)).c_str(), "r");
  for (int pid; fscanf(p, "%d", &pid) == 1;) pids.insert(pid);
  pclose(p);
  return pids;
}

std::string BinPath(const std::string& name) { return std::string(ITHAPPENS_BIN_DIR) + "/" + name; }

int WaitForPortFile(const std::string& path, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream f(path);
    int port = 0;
    if (f >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

Cluster::Cluster() = default;
Cluster::~Cluster() {
  workers_.clear();
  engine_.reset();
  sink_.reset();
}

void Cluster::StartEngine(std::vector<std::string> extra, int port) {
  std::string port_file =
      (dir_.path() / ("engine-" + std::to_string(engine_starts_++) + ".port")).string();
  std::vector<std::string> argv = {BinPath("ithappens-engine"),
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--db",
                                   db_path(),
                                   "--log",
                                   (dir_.path() / "logs/engine.log").string(),
                                   "--port-file",
                                   port_file,
                                   "--tick-ms",
                                   "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  engine_ = std::make_unique<ChildProcess>(argv, (dir_.path() / "engine.out").string());
  engine_port_ = WaitForPortFile(port_file, 10'000);
  ASSERT_GT(engine_port_, 0) << "engine did not start; see " << dir_.path() / "engine.out";
}

void Cluster::StartSink(std::vector<std::string> extra) {
  std::string port_file = (dir_.path() / "sink.port").string();
  std::vector<std::string> argv = {BinPath("ithappens-sink"),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--deliveries",
                                   deliveries_path(),
                                   "--log",
                                   (dir_.path() / "logs/sink.log").string(),
                                   "--port-file",
                                   port_file};
  argv.insert(argv.end(), extra.begin(), extra.end());
  sink_ = std::make_unique<ChildProcess>(argv, (dir_.path() / "sink.out").string());
  sink_port_ = WaitForPortFile(port_file, 10'000);
  ASSERT_GT(sink_port_, 0) << "sink did not start";
}

ChildProcess& Cluster::StartWorker(const std::string& id, std::vector<std::string> extra) {
  std::vector<std::string> argv = {BinPath("ithappens-worker"),
                                   "--engine",
                                   engine_address(),
                                   "--sink",
                                   sink_address(),
                                   "--worker-id",
                                   id,
                                   "--poll-ms",
                                   "10",
                                   "--log",
                                   (dir_.path() / ("logs/worker-" + id + ".log")).string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  workers_.emplace_back(
      id, std::make_unique<ChildProcess>(argv, (dir_.path() / (id + ".out")).string()));
  return *workers_.back().second;
}

ChildProcess& Cluster::worker(const std::string& id) {
  for (auto& [wid, p] : workers_) {
    if (wid == id) return *p;
  }
  throw std::runtime_error("no worker " + id);
}

void Cluster::KillEngine(int sig) {
  engine_->Signal(sig);
  engine_->Wait();
}

rpc::RetryPolicy Cluster::TestPolicy() {
  rpc::RetryPolicy p;
  p.max_attempts = 40;
  p.attempt_deadline_ms = 3000;
  p.initial_backoff_ms = 10;
  p.max_backoff_ms = 200;
  return p;
}

rpc::QueueClient Cluster::Client(rpc::RetryPolicy policy) {
  return rpc::QueueClient(rpc::Connect(engine_address()), policy, 7);
}

rpc::SinkClient Cluster::Sink() {
  return rpc::SinkClient(rpc::Connect(sink_address()), TestPolicy(), 8);
}

std::vector<engine::TaskStatus> AwaitTasks(
    rpc::QueueClient& client, const std::vector<std::string>& ids,
    const std::function<bool(const engine::TaskStatus&)>& done, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<engine::TaskStatus> out(ids.size());
  while (true) {
    bool all = true;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!client.GetStatus(ids[i], &out[i]).ok() || !done(out[i])) all = false;
    }
    if (all || std::chrono::steady_clock::now() >= end) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ithappens::testing
