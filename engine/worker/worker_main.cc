// ithappens-worker: claims tasks from the engine and runs their payload programs.
//
//   ithappens-worker --engine HOST:PORT --sink HOST:PORT --worker-id W [--worker-group G]
//                    [--capacity N] [--poll-ms N] [--leak-mb-per-task N]
//                    [--switched-leak-mb-per-task N]
//                    [--engine-bug effect-key-per-run] [--seed N] [--log PATH]
//
// Attribution (DESIGN.md): exit != 0, a crash step and exceeding the program's own memory
// budget are user failures (reportFailed); a malformed payload is exception
// malformed-payload; a downstream (sink) outage is exception intermittent-task (retried);
// SIGTERM reports worker-shutdown for every running task (retried). Its memory limit is
// the kernel's (real mode runs it in a memory cgroup): an OOM kill is a SIGKILL, no
// reports, and its claims expire.
// SIGUSR1 switches a further leak of --switched-leak-mb-per-task on, SIGUSR2 off (real
// mode's worker-leak fault, switched at run time).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "engine/bugs.h"
#include "engine/queue_client.h"
#include "engine/server/daemon.h"
#include "engine/payload.h"
#include "engine/worker/op_log.h"

using namespace ithappens;
using engine::ReasonResolved;
using engine::RunRef;
using worker::ParsePayload;
using worker::OpLog;
using worker::Step;

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string engine, sink, group = "workers", id;
  int capacity = 4;
  int64_t poll_ms = 50, leak_mb_per_task = 0;
  int64_t switched_leak_mb_per_task = 16;
  int64_t attempt_deadline_ms = 5'000;  // each call's deadline (real mode scales it)
  uint64_t seed = 1;
  engine::BugSwitches bugs;
  std::string history;         // the op log (real mode's history of this worker), "" none
  double time_scale = 1;       // K engine ms per wall ms (real mode's time scale)
  int64_t time_origin_ms = 0;  // the run's origin of the scaled clock (0: now)
};

class Worker {
 public:
  Worker(Config c, std::shared_ptr<spdlog::logger> log)
      : c_(std::move(c)),
        clock_(c_.time_origin_ms, c_.time_scale),
        ops_(c_.history, c_.id, &clock_, c_.time_origin_ms),
        log_(std::move(log)),
        queue_(rpc::Connect(c_.engine), rpc::RetryPolicy{.attempt_deadline_ms = c_.attempt_deadline_ms},
               c_.seed),
        sink_(rpc::Connect(c_.sink),
              rpc::RetryPolicy{.max_attempts = 12, .attempt_deadline_ms = c_.attempt_deadline_ms},
              c_.seed + 1) {}

  void Stop() { stop_ = true; }

  int Run() {
    std::thread reclaimer([this] { ReclaimLoop(); });
    while (!stop_) {
      int free_slots = c_.capacity - active_.load();
      if (free_slots > 0) {
        std::vector<rpc::ClaimedTask> claims;
        const nlohmann::json asked = {{"n", free_slots}};
        ops_.Invoke("claim", "", asked);
        engine::Status st = queue_.ClaimWork(c_.group, c_.id, free_slots, &claims);
        nlohmann::json runs = nlohmann::json::array();
        for (const auto& claim : claims) {
          runs.push_back({{"task", claim.task.task_id},
                          {"run", claim.run_id},
                          {"taken_until_ms", claim.taken_until_ms - c_.time_origin_ms}});
        }
        ops_.Complete("claim", "", st, {{"runs", runs}}, asked);
        if (!st.ok()) log_->warn("claimWork: {}", st.ToString());
        for (auto& claim : claims) Start(std::move(claim));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(c_.poll_ms));
    }
    while (active_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    reclaimer_stop_ = true;
    reclaimer.join();
    log_->info("stopped after {} tasks", finished_.load());
    return 0;
  }

 private:
  struct Lease {
    int64_t taken_until_ms;
    int64_t length_ms;
  };

  void Start(rpc::ClaimedTask claim) {
    active_++;
    {
      std::lock_guard<std::mutex> lock(mu_);
      int64_t now = clock_.NowMs();
      leases_[{claim.task.task_id, claim.run_id}] =
          Lease{claim.taken_until_ms, std::max<int64_t>(claim.taken_until_ms - now, 1)};
    }
    std::thread([this, claim = std::move(claim)] {
      RunTask(claim);
      {
        std::lock_guard<std::mutex> lock(mu_);
        leases_.erase({claim.task.task_id, claim.run_id});
      }
      daemon::Leak(c_.leak_mb_per_task * 1024 * 1024);
      if (daemon::LeakSwitchOn()) {
        daemon::Leak(c_.switched_leak_mb_per_task * 1024 * 1024);
        log_->warn("leaking: {} MiB after this task, rss {} bytes", c_.switched_leak_mb_per_task,
                   daemon::RssBytes());
      }
      finished_++;
      active_--;
    }).detach();
  }

  // Reclaims every held task when half of its lease is gone.
  void ReclaimLoop() {
    while (!reclaimer_stop_) {
      std::vector<std::pair<std::string, uint32_t>> due;
      int64_t now = clock_.NowMs();
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [key, lease] : leases_) {
          if (now >= lease.taken_until_ms - lease.length_ms / 2) due.push_back(key);
        }
      }
      for (const auto& [task, run] : due) {
        int64_t until = 0;
        const nlohmann::json which = {{"run", run}};
        ops_.Invoke("reclaim", task, which);
        engine::Status st = queue_.ReclaimTask(RunRef{task, run, c_.group, c_.id}, &until);
        ops_.Complete("reclaim", task, st,
                      {{"run", run}, {"taken_until_ms", until - c_.time_origin_ms}}, which);
        std::lock_guard<std::mutex> lock(mu_);
        auto it = leases_.find({task, run});
        if (it == leases_.end()) continue;
        if (st.ok()) {
          it->second.taken_until_ms = until;
        } else {
          log_->warn("reclaimTask {}/{}: {}", task, run, st.ToString());
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(c_.poll_ms, 100)));
    }
  }

  // Sleeps ms of the run's (scaled) time in slices, so that a stop request is noticed;
  // false if stopped.
  bool SleepMs(int64_t ms) {
    auto end = Clock::now() + std::chrono::milliseconds(clock_.WallMsFor(ms));
    while (Clock::now() < end) {
      if (stop_) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(20)));
    }
    return !stop_;
  }

  void Report(const RunRef& ref, engine::RunState outcome, ReasonResolved reason,
              const std::string& why) {
    engine::Status st;
    const std::string task(ref.task_id);
    nlohmann::json value = {{"run", ref.run_id}};
    if (outcome == engine::RunState::kException) value["reason"] = engine::ToString(reason);
    const char* f = outcome == engine::RunState::kCompleted ? "report-completed"
                    : outcome == engine::RunState::kFailed  ? "report-failed"
                                                            : "report-exception";
    ops_.Invoke(f, task, value);
    if (outcome == engine::RunState::kCompleted) {
      st = queue_.ReportCompleted(ref);
    } else if (outcome == engine::RunState::kFailed) {
      st = queue_.ReportFailed(ref);
    } else {
      st = queue_.ReportException(ref, reason);
    }
    ops_.Complete(f, task, st, value, value);
    std::string what(outcome == engine::RunState::kException ? engine::ToString(reason)
                                                             : engine::ToString(outcome));
    if (st.ok()) {
      log_->info("{}/{} {}{}", ref.task_id, ref.run_id, what, why.empty() ? "" : " (" + why + ")");
    } else {
      // FAILED_PRECONDITION: the run was taken from us (lease expired): fencing at work.
      log_->warn("{}/{} report {}: {}", ref.task_id, ref.run_id, what, st.ToString());
    }
  }

  void RunTask(const rpc::ClaimedTask& claim) {
    const std::string& id = claim.task.task_id;
    RunRef ref{id, claim.run_id, c_.group, c_.id};
    auto program = ParsePayload(claim.task.payload);
    if (!program.ok()) {
      Report(ref, engine::RunState::kException, ReasonResolved::kMalformedPayload,
             program.status().message());
      return;
    }
    RunHost host(this, claim);
    std::optional<worker::Ending> ending = worker::RunProgram(*program, claim.run_id, host);
    if (!ending) {
      if (host.sink_error.empty()) return Shutdown(ref);
      ops_.Event("fail", "deliver", id, "effect sink unavailable: " + host.sink_error);
      return Report(ref, engine::RunState::kException, ReasonResolved::kIntermittentTask,
                    "effect sink unavailable: " + host.sink_error);
    }
    Report(ref, ending->state, ending->reason, ending->why);
  }

  // The worker's side of each step: real sleeps, real spinning, real memory, real calls.
  class RunHost final : public worker::StepHost {
   public:
    RunHost(Worker* w, const rpc::ClaimedTask& claim) : w_(w), claim_(claim) {}
    bool Wait(const Step& s) override {
      if (s.kind == Step::Kind::kSleep) return w_->SleepMs(s.value);
      auto end = Clock::now() + std::chrono::milliseconds(w_->clock_.WallMsFor(s.value));
      volatile uint64_t x = 0;
      while (Clock::now() < end) {
        if (w_->stop_) return false;
        for (int k = 0; k < 10000; ++k) x = x + k;
      }
      return true;
    }
    bool Allocate(const Step& s) override {
      memory_.push_back(std::make_unique<char[]>(static_cast<size_t>(s.value) << 20));
      std::memset(memory_.back().get(), 1, static_cast<size_t>(s.value) << 20);
      return true;
    }
    bool Effect(size_t i, const Step& s) override {
      const std::string& id = claim_.task.task_id;
      v1::DeliverRequest req;
      req.set_idempotency_key(engine::EffectKey(id, claim_.run_id, static_cast<int>(i), w_->c_.bugs));
      req.set_channel(s.channel);
      req.set_recipient(s.to);
      req.set_task_id(id);
      req.set_run_id(claim_.run_id);
      bool delivered = false;
      engine::Status st = w_->sink_.Deliver(req, &delivered);
      if (!st.ok()) sink_error = st.ToString();
      return st.ok();
    }
    std::string sink_error;  // why the run stopped at an effect ("": it did not)

   private:
    Worker* w_;
    const rpc::ClaimedTask& claim_;
    std::vector<std::unique_ptr<char[]>> memory_;
  };

  void Shutdown(const RunRef& ref) {
    Report(ref, engine::RunState::kException, ReasonResolved::kWorkerShutdown, "worker stopping");
  }

  Config c_;
  engine::ScaledClock clock_;  // the run's time: leases and program steps
  OpLog ops_;                  // every call, for real mode's history
  std::shared_ptr<spdlog::logger> log_;
  rpc::QueueClient queue_;
  rpc::SinkClient sink_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reclaimer_stop_{false};
  std::atomic<int> active_{0};
  std::atomic<int64_t> finished_{0};
  std::mutex mu_;
  std::map<std::pair<std::string, uint32_t>, Lease> leases_;
};

}  // namespace

int main(int argc, char** argv) {
  daemon::InstallTerminationHandler();
  daemon::InstallLeakSwitch();
  daemon::InstallOutOfMemoryAbort();
  CLI::App app{"ithappens worker: claims tasks and runs their payload programs"};
  Config c;
  std::string log_path;
  std::vector<std::string> bugs;
  app.add_option("--engine", c.engine, "engine HOST:PORT")->required();
  app.add_option("--sink", c.sink, "effect sink HOST:PORT")->required();
  app.add_option("--worker-group", c.group, "worker group");
  app.add_option("--worker-id", c.id, "worker id (unique per worker)")->required();
  app.add_option("--capacity", c.capacity, "tasks run at once")->check(CLI::Range(1, 1000));
  app.add_option("--poll-ms", c.poll_ms, "claim poll interval")
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
  app.add_option("--leak-mb-per-task", c.leak_mb_per_task, "platform-level leak per task run")
      ->check(CLI::Range(int64_t{0}, int64_t{4096}));
  app.add_option("--switched-leak-mb-per-task", c.switched_leak_mb_per_task,
                 "leak per task run while SIGUSR1 switched the leak on (until SIGUSR2)")
      ->check(CLI::Range(int64_t{0}, int64_t{4096}));
  app.add_option("--attempt-deadline-ms", c.attempt_deadline_ms,
                 "deadline of each attempt of a call to the engine or the sink (wall ms)")
      ->check(CLI::Range(int64_t{10}, int64_t{600'000}));
  app.add_option("--engine-bug", bugs, "bug switches that reach the worker (effect-key-per-run)");
  app.add_option("--seed", c.seed, "seed of the retry jitter");
  app.add_option("--log", log_path, "log file (default: stderr)");
  app.add_option("--history", c.history,
                 "append every call to this file in the history's format (real mode)");
  app.add_option("--time-scale", c.time_scale, "K run seconds per wall second, 1..100000")
      ->check(CLI::Range(1.0, 100'000.0));
  app.add_option("--time-origin-ms", c.time_origin_ms,
                 "wall time the scaled clock counts from (the run's; default: now)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const auto& b : bugs) {
    if (auto st = engine::EnableBugSwitch(b, &c.bugs); !st.ok()) {
      std::fprintf(stderr, "ithappens-worker: %s\n", st.ToString().c_str());
      return 2;
    }
  }
  if (c.time_origin_ms == 0) c.time_origin_ms = engine::RealClock().NowMs();
  auto log = daemon::MakeLogger("worker-" + c.id, log_path);
  log->info("worker {}/{} capacity {} engine {} sink {}", c.group, c.id, c.capacity, c.engine,
            c.sink);
  Worker worker(c, log);
  std::thread signals([&] {
    int sig = daemon::WaitForTerminationSignal();
    log->info("signal {}: reporting worker-shutdown for running tasks", sig);
    worker.Stop();
  });
  signals.detach();
  return worker.Run();
}
