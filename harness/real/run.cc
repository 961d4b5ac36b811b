#include "harness/real/run.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/clock.h"
#include "engine/hash.h"
#include "engine/queue_client.h"
#include "harness/history/history.h"
#include "harness/load/workload.h"
#include "harness/real/merge.h"
#include "harness/real/proxy.h"
#include "harness/real/power_control.h"
#include "harness/real/supervisor.h"
#include "harness/real/target.h"

namespace ithappens::harness {

using engine::Status;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The harness's own record of the run (plan, creates, final statuses, effects), in run
// time since the origin. Thread-safe: every client thread records here.
class Recorder {
 public:
  Recorder(const std::string& path, const engine::ScaledClock& clock, int64_t origin_ms)
      : w_(path), clock_(clock), origin_ms_(origin_ms) {}
  bool ok() const { return w_.ok(); }
  // False with *error when a line did not reach the file (HistoryWriter::Close).
  bool Close(std::string* error) {
    std::lock_guard<std::mutex> lock(mu_);
    return w_.Close(error);
  }
  void Emit(std::string_view proc, EventType type, std::string_view f, std::string_view task,
            std::string_view value = "", std::string_view error = "") {
    EmitAt((clock_.NowMs() - origin_ms_) * 1'000'000, proc, type, f, task, value, error);
  }
  void EmitAt(int64_t t_ns, std::string_view proc, EventType type, std::string_view f,
              std::string_view task, std::string_view value = "", std::string_view error = "") {
    std::lock_guard<std::mutex> lock(mu_);
    w_.AppendRaw(t_ns, proc, type, f, task, value, error);
  }

 private:
  std::mutex mu_;
  HistoryWriter w_;
  const engine::ScaledClock& clock_;
  int64_t origin_ms_;
};

// The final event's value: the simulator's shape, times since the origin.
std::string FinalJson(const engine::TaskStatus& s, int64_t origin_ms) {
  json runs = json::array();
  for (const auto& r : s.runs) {
    runs.push_back({{"reason_created", engine::ToString(r.reason_created)},
                    {"reason_resolved", engine::ToString(r.reason_resolved)},
                    {"resolved_ms", r.resolved_ms ? r.resolved_ms - origin_ms : 0},
                    {"started_ms", r.started_ms ? r.started_ms - origin_ms : 0},
                    {"state", engine::ToString(r.state)},
                    {"worker", r.worker ? r.worker->id : ""}});
  }
  json v = {{"deadline_ms", s.deadline_ms - origin_ms},
            {"runs", runs},
            {"state", engine::ToString(s.state)}};
  if (s.blocked_by) v["blocked_by"] = *s.blocked_by;
  return v.dump();
}

std::string CreateValue(const engine::TaskDefinition& d) {
  return "{\"digest\":\"" + DefinitionDigest(d) + "\",\"priority\":\"" +
         std::string(engine::ToString(d.priority)) + "\",\"retries\":" + std::to_string(d.retries) +
         "}";
}

// The leaks of worker-leak and sink-leak, and the limits they run into: the kernel's, a
// memory cgroup per process (memory_limit.h; RLIMIT_AS where no cgroup is writable). A
// leaking worker is OOM-killed at about its 5th task, the sink at about its 20th delivery,
// as in the simulator; each is restarted by the supervisor after the simulator's delay.
constexpr int64_t kWorkerLeakMb = 48;  // the worker's limit: the scenario's worker_memory_mb
constexpr int64_t kSinkLimitMb = 256, kSinkLeakKb = 12 * 1024;
constexpr int64_t kWorkerOomRestartMs = 5'000, kSinkOomRestartMs = 10'000;  // run time
constexpr int64_t kMinAttemptWallMs = 250;
constexpr int64_t kRssEveryWallMs = 250;  // the rss events' interval (DESIGN: at most 250)
constexpr int64_t kStartupWallMs = 200, kStartupWallMsPerProcess = 60;
// How late a process of the run may act, in wall ms, on a loaded 2-core machine (its tick,
// scheduling): the checkers' slack for the platform's clockwork is this times K, in run
// time (at 500x: 50 run s; at 10x: the simulator's 2 s).
constexpr double kWallNoiseMs = 100;
constexpr int kHookAttempts = 20;  // a create-hook or remove-hook of unknown outcome
constexpr int64_t kFiuExtension = 4;  // an unhit fsync/write fault: armed up to 4x longer

int64_t RssBytesOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(f >> pages_total >> pages_resident)) return -1;
  return static_cast<int64_t>(pages_resident) * sysconf(_SC_PAGESIZE);
}

void SleepUntilWall(int64_t wall_ms) {
  const int64_t now = engine::RealClock().NowMs();
  if (wall_ms > now) std::this_thread::sleep_for(std::chrono::milliseconds(wall_ms - now));
}

}  // namespace

Status CheckRealScenario(const Scenario& s, const RealTarget* target) {
  auto no = [&](const std::string& what) {
    return Status::InvalidArgument(s.file + ": " + what +
                                   ": not in real mode yet (issue 10; run it with --mode sim)");
  };
  const std::unique_ptr<RealTarget> engine_target = target ? nullptr : MakeEngineTarget();
  if (!target) target = engine_target.get();
  for (size_t k = 0; k < s.faults.size(); ++k) {
    if (!target->Supports(s.faults[k].kind)) {
      return Status::InvalidArgument(s.file + ": faults[" + std::to_string(k) + "].kind " +
                                     std::string(Name(s.faults[k].kind)) + ": the target " +
                                     target->Name() + " does not support it");
    }
  }
  if (s.real_fsync_error_by_powerfs) {
    if (const Status fuse = FuseAvailable(); !fuse.ok())
      return Status::InvalidArgument(s.file + ": real.fsync_error powerfs: " + fuse.message());
  }
  for (size_t k = 0; k < s.faults.size(); ++k) {
    if (s.faults[k].kind != FaultKindId::kPowerCut) continue;
    if (const Status fuse = FuseAvailable(); !fuse.ok()) {
      return Status::InvalidArgument(s.file + ": faults[" + std::to_string(k) +
                                     "].kind power-cut: cannot cut the power here: " +
                                     fuse.message());
    }
  }
  if (s.late_calls) return no("late_calls");
  if (s.bound_probes) return no("bound_probes");
  for (size_t w = 0; w < s.workload.size(); ++w) {
    const WorkloadSpec& spec = s.workload[w];
    const std::string where = "workload[" + std::to_string(w) + "]";
    if (spec.recreate_after_ms >= 0 || spec.cancel_after_ms >= 0 || spec.rerun_after_ms >= 0)
      return no(where + " later calls (recreate_s, cancel_s, rerun_s)");
  }
  return Status::Ok();
}

engine::Result<RealSummary> RunReal(const RealOptions& o) {
  const Scenario& s = *o.scenario;
  ITHAPPENS_RETURN_IF_ERROR(CheckRealScenario(s, o.target));
  const auto wall_start = std::chrono::steady_clock::now();
  const fs::path run_dir(o.run_dir), real = run_dir / "real", logs = run_dir / "logs";
  std::error_code ec;
  fs::remove_all(real, ec);  // a previous run's database and records
  fs::create_directories(real, ec);
  fs::create_directories(logs, ec);
  if (ec) return Status::Unavailable("cannot create " + real.string() + ": " + ec.message());

  // The run's time 0 is set ahead by the time the processes take to start (a few tens of
  // wall ms each): at a high time scale, 150 wall ms of startup would be seconds of the
  // scenario, and its first faults would come late. Calls before it are recorded at 0.
  const int64_t startup_wall_ms = kStartupWallMs + kStartupWallMsPerProcess * (s.workers + 2);
  const int64_t origin = engine::RealClock().NowMs() + startup_wall_ms;
  const engine::ScaledClock clock(origin, o.time_scale);
  const std::string K = std::to_string(o.time_scale), T0 = std::to_string(origin);
  auto wall_of = [&](int64_t run_ms) {  // the wall time a run time falls at
    return origin + static_cast<int64_t>(static_cast<double>(run_ms) / o.time_scale);
  };
  Workload workload = PlanWorkload(s, o.load, origin);
  RealSummary summary;
  summary.tasks = static_cast<int64_t>(workload.tasks.size());

  // The power-cut file system, mounted over the target's data when the scenario cuts the
  // power. Declared before the supervisor: whatever way the run ends, its mount is checked
  // and detached after every process is gone (fusermount3 unmounts it when it dies; this
  // is the backstop).
  const fs::path data_dir = real / "data";
  fs::create_directories(data_dir, ec);
  const bool power_cuts =
      std::any_of(s.faults.begin(), s.faults.end(),
                  [](const FaultSpec& f) { return f.kind == FaultKindId::kPowerCut; }) ||
      s.real_fsync_error_by_powerfs;
  struct MountGuard {
    std::string path;
    explicit MountGuard(std::string p) : path(std::move(p)) {
      if (!path.empty()) Supervisor::UnmountOnSignal(path, true);
    }
    ~MountGuard() {
      if (path.empty()) return;
      (void)Unmount(path);
      Supervisor::UnmountOnSignal(path, false);
    }
  } mount_guard{power_cuts ? data_dir.string() : ""};

  Supervisor::InstallSignalTeardown();
  Supervisor sup(logs);
  const std::unique_ptr<RealTarget> engine_target = o.target ? nullptr : MakeEngineTarget();
  const RealTarget& target = o.target ? *o.target : *engine_target;
  RunContext ctx{&s, real, data_dir, o.bin_dir, o.time_scale, origin, o.bug_names};
  ctx.poll_wall_ms = std::max<int64_t>(1, static_cast<int64_t>(s.poll_ms / o.time_scale));
  // Callers give up on an attempt after the scenario's request timeout, in run time (as in
  // the simulator), but never sooner than a loaded 2-core machine answers.
  ctx.attempt_wall_ms = std::max<int64_t>(
      kMinAttemptWallMs, static_cast<int64_t>(s.request_timeout_ms / o.time_scale));
  ctx.worker_memory_limit_mb = s.worker_memory_mb;
  ctx.worker_leak_mb_per_task = kWorkerLeakMb;
  std::unique_ptr<PowerControl> power;
  if (power_cuts) {
    const std::string port_file = (real / "powerfs.port").string();
    ITHAPPENS_RETURN_IF_ERROR(
        sup.Start({"powerfs",
                   {(fs::path(o.bin_dir) / "ithappens-powerfs").string(), "--backing",
                    (real / "disk").string(), "--mount", data_dir.string(), "--port-file",
                    port_file},
                   port_file}));
    if (!IsMountPoint(data_dir.string()))
      return Status::Unavailable("ithappens-powerfs is up but " + data_dir.string() +
                                 " is not mounted; see " + sup.LogPath("powerfs").string());
    power = std::make_unique<PowerControl>(sup.Port("powerfs"));
  }
  ProcessSpec server_spec = target.Server(ctx, 0);
  const std::string server = server_spec.name;
  ITHAPPENS_RETURN_IF_ERROR(sup.Start(server_spec));
  auto bin = [&](const char* name) { return (fs::path(o.bin_dir) / name).string(); };
  ProcessSpec sink_spec{"sink",
                        {bin("ithappens-sink"), "--listen", "127.0.0.1:0", "--deliveries",
                         (real / "deliveries.jsonl").string(), "--port-file",
                         (real / "sink.port").string(), "--time-scale", K, "--time-origin-ms",
                         T0, "--switched-leak-kb-per-request", std::to_string(kSinkLeakKb)},
                        (real / "sink.port").string()};
  sink_spec.memory_limit_bytes = kSinkLimitMb << 20;
  ITHAPPENS_RETURN_IF_ERROR(sup.Start(sink_spec));
  const int engine_port = sup.Port(server), sink_port = sup.Port("sink");
  const std::string direct_address = "127.0.0.1:" + std::to_string(engine_port);
  // A restart serves on the same port: the proxies and workers keep their addresses.
  server_spec = target.Server(ctx, engine_port);
  sink_spec.argv[2] = "127.0.0.1:" + std::to_string(sink_port);
  std::vector<std::string> names = {server, "sink"};

  // A proxy on every link to the engine (the faults will switch them).
  std::map<std::string, std::unique_ptr<FaultProxy>> proxies;
  auto proxy = [&](const std::string& proc) -> engine::Result<int> {
    auto p = std::make_unique<FaultProxy>(proc + "->engine", engine_port,
                                          engine::StableHash(proc, 0),
                                          logs / "proxy.log");
    ITHAPPENS_RETURN_IF_ERROR(p->Start());
    const int port = p->port();
    proxies[proc] = std::move(p);
    return port;
  };
  std::vector<std::string> op_logs;
  for (int w = 0; w < s.workers; ++w) {
    const std::string name = "worker-" + std::to_string(w);
    auto port = proxy(name);
    if (!port.ok()) return port.status();
    op_logs.push_back((real / (name + ".jsonl")).string());
    names.push_back(name);
    const ProcessSpec spec = target.Worker(ctx, w, "127.0.0.1:" + std::to_string(*port),
                                           "127.0.0.1:" + std::to_string(sink_port),
                                           op_logs.back());
    ITHAPPENS_RETURN_IF_ERROR(sup.Start(spec));
  }

  const std::string own = (real / "harness.jsonl").string();
  std::atomic<int> nemesis_failures{0}, watcher_failures{0};
  std::string record_error;  // the harness's own record did not reach its file
  {
    Recorder rec(own, clock, origin);
    if (!rec.ok()) return Status::Unavailable(own + ": cannot write");
    rec.EmitAt(0, "plan", EventType::kPlan, "target", "",
               json{{"claim_timeout_ms", s.claim_timeout_ms},
                    {"timing_slack_ms", static_cast<int64_t>(kWallNoiseMs * o.time_scale)}}
                   .dump());
    // How the run's clock relates to the wall (wall = origin + t / K) and whether the
    // processes were up by time 0.
    const int64_t late_wall_ms = engine::RealClock().NowMs() - origin;
    rec.EmitAt(0, "supervisor", EventType::kInfo, "started", "",
               json{{"time_scale", o.time_scale},
                    {"wall_origin_ms", origin},
                    {"startup_wall_ms", startup_wall_ms},
                    {"late_wall_ms", std::max<int64_t>(0, late_wall_ms)},
                    {"memory_limit",
                     {{"mechanism", Name(sup.limit_mechanism())},
                      {"worker_bytes", ctx.worker_memory_limit_mb << 20},
                      {"sink_bytes", kSinkLimitMb << 20}}}}
                   .dump());
    if (s.herd_window_ms > 0) {
      rec.EmitAt(0, "plan", EventType::kPlan, "herd-guard", "",
                 "{\"max\":" + std::to_string(s.herd_max) +
                     ",\"window_ms\":" + std::to_string(s.herd_window_ms) + "}");
    }
    for (const PlannedTask& t : workload.tasks)
      rec.EmitAt(0, "plan", EventType::kPlan, "task", t.def->task_id, t.PlanJson());
    for (const PlannedHook& hook : workload.hooks)
      rec.EmitAt(0, "plan", EventType::kPlan, "hook", "", hook.PlanValue(workload.tasks).dump());

    // Every client's link gets its proxy before anything runs.
    std::map<int, std::vector<const Submission*>> by_client;
    const std::vector<Submission> submissions = ExpandSubmissions(workload);
    for (const Submission& sub : submissions)
      by_client[workload.tasks[sub.tasks.front()].client].push_back(&sub);
    std::map<int, int> client_ports;
    for (auto& [client, subs] : by_client) {
      std::stable_sort(subs.begin(), subs.end(),
                       [](const Submission* a, const Submission* b) { return a->at_ms < b->at_ms; });
    }
    std::set<int> callers;
    for (const auto& [client, subs] : by_client) callers.insert(client);
    for (const PlannedHook& hook : workload.hooks) callers.insert(hook.client);
    for (int client : callers) {
      auto port = proxy("client-" + std::to_string(client));
      if (!port.ok()) return port.status();
      client_ports[client] = *port;
    }

    // What the nemesis and the watcher share: processes that ended on their own and wait
    // for their restart (wall ms), the processes whose leak is switched on, OOM kills.
    std::mutex procs_mu;
    std::map<std::string, int64_t> restart_due;
    std::set<std::string> leaking;
    std::map<std::string, int> ooms;
    std::map<std::string, int64_t> oom_kills_seen;  // each process's cgroup's count
    auto start_again = [&](const std::string& name) {  // under procs_mu
      Status st = name == server ? sup.Start(server_spec)
                  : name == "sink" ? sup.Start(sink_spec)
                                   : sup.Restart(name);
      if (st.ok() && leaking.count(name)) st = sup.Signal(name, SIGUSR1);
      return st;
    };

    // The watcher: a process that ends on its own is seen within 50 ms, recorded (an exit
    // 137 is an OOM kill: the platform's), and restarted by the supervisor after the
    // simulator's delay.
    // Every kRssEveryWallMs it records every process's resident set (an rss event).
    std::atomic<bool> watching{true};
    std::thread watcher([&] {
      int64_t next_rss_ms = 0;
      while (watching) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::lock_guard<std::mutex> lock(procs_mu);
        json rss = json::object();
        for (const std::string& name : names) {
          if (const pid_t pid = sup.Pid(name); pid > 0) {
            int64_t& peak = summary.peak_rss_bytes[name];
            const int64_t bytes = RssBytesOf(pid);
            peak = std::max(peak, bytes);
            if (bytes > 0) rss[name] = bytes;
          }
        }
        if (const int64_t now = engine::RealClock().NowMs(); now >= next_rss_ms) {
          next_rss_ms = now + kRssEveryWallMs;
          rec.Emit("supervisor", EventType::kInfo, "rss", "", json{{"bytes", rss}}.dump());
        }
        for (const std::string& name : names) {
          if (auto due = restart_due.find(name); due != restart_due.end()) {
            if (engine::RealClock().NowMs() < due->second) continue;
            restart_due.erase(due);
            const Status st = start_again(name);
            rec.Emit("supervisor", EventType::kInfo, "restart", "",
                     json{{"target", name}, {"pid", sup.Pid(name)}}.dump(),
                     st.ok() ? "" : st.ToString());
            if (!st.ok()) watcher_failures++;
            continue;
          }
          const std::optional<ExitRecord> ended = sup.Ended(name);
          if (!ended) continue;
          // The kernel's OOM killer: a SIGKILL nobody here sent, counted by the process's
          // memory cgroup; under RLIMIT_AS, an allocation that failed (abort).
          const int64_t kills = sup.OomKills(name);
          const bool oom =
              !ended->exited &&
              (ended->signal == SIGKILL ? kills > oom_kills_seen[name]
                                        : ended->signal == SIGABRT &&
                                              sup.limit_mechanism() == LimitMechanism::kRlimitAs);
          oom_kills_seen[name] = kills;
          const bool worker = name.rfind("worker-", 0) == 0;
          json v = {{"target", name},
                    {"proof",
                     {{"pid", ended->pid},
                      {"ended", ended->ToString()},
                      {"limit", Name(sup.limit_mechanism())},
                      {"oom_kills", kills}}}};
          if (oom && (worker || name == "sink")) {
            ooms[name]++;
            rec.Emit("nemesis", EventType::kFault,
                     Name(worker ? FaultKindId::kWorkerOom : FaultKindId::kSinkOom), "", v.dump());
          } else {
            // Not a fault of the schedule: the platform's process died on its own.
            rec.Emit("supervisor", EventType::kInfo, "ended", "", v.dump(),
                     name + " " + ended->ToString() + " on its own; see " +
                         sup.LogPath(name).string());
          }
          const int64_t delay = !oom ? 0 : worker ? kWorkerOomRestartMs : kSinkOomRestartMs;
          restart_due[name] = wall_of(clock.NowMs() - origin + delay);
        }
      }
    });

    // The nemesis: each fault by its real mechanism, at its time, its event carrying the
    // proof that it happened.
    std::thread nemesis([&] {
      std::map<size_t, int64_t> rss_before;
      std::map<size_t, FaultProxy::Counters> before;
      std::map<size_t, int64_t> fires_before;
      // fsync-error is libfiu's in the target (write-error always), or with
      // `real: {fsync_error: powerfs}` the power-cut file system's fsyncgate fault (a real
      // EIO from the kernel, the data forgotten).
      auto via_powerfs = [&](FaultKindId kind) {
        return s.real_fsync_error_by_powerfs && kind == FaultKindId::kFsyncError;
      };
      auto fires = [&](FaultKindId kind) -> int64_t {
        if (via_powerfs(kind)) {
          auto stats = power->Stats();
          return stats.ok() ? (*stats)["fsyncs_failed"].get<int64_t>() : -1;
        }
        auto n = target.DiskFaultFires(direct_address);
        return n.ok() ? *n : -1;
      };
      auto set_disk_fault = [&](const FaultSpec& f, bool on, uint64_t seed) -> Status {
        if (!via_powerfs(f.kind))
          return target.SetDiskFault(ctx, sup.Pid(server), f.kind, on, on ? f.probability : 0);
        auto r = power->FailFsyncs(on ? f.probability : 0, seed);
        return r.status();
      };
      auto targets = [&](const FaultSpec& f, bool workers_only) {
        std::vector<FaultProxy*> out;
        for (auto& [proc, p] : proxies) {
          const bool worker = proc.rfind("worker-", 0) == 0;
          if ((f.target == "all" && (worker || !workers_only)) || proc == f.target)
            out.push_back(p.get());
        }
        return out;
      };
      auto sum = [](const std::vector<FaultProxy*>& ps) {
        FaultProxy::Counters c;
        for (FaultProxy* p : ps) {
          const auto x = p->counters();
          c.discarded_up += x.discarded_up;
          c.discarded_down += x.discarded_down;
          c.resets += x.resets;
          c.bytes_up += x.bytes_up;
          c.bytes_down += x.bytes_down;
        }
        return c;
      };
      // In time order (the schedule lists each fault's start then its stop; the simulator
      // sets them as timers, here they are waited for one after the other).
      std::vector<FaultEdge> edges = FaultSchedule(s.faults);
      std::stable_sort(edges.begin(), edges.end(),
                       [](const FaultEdge& a, const FaultEdge& b) { return a.at_ms < b.at_ms; });
      for (const FaultEdge& edge : edges) {
        const FaultSpec& f = s.faults[edge.fault];
        const bool fiu_fault =
            f.kind == FaultKindId::kFsyncError || f.kind == FaultKindId::kWriteError;
        // Counted before the edge's time: the engine may be slow to answer under load, and
        // the fault must start on time.
        if (fiu_fault && edge.start) fires_before[edge.fault] = fires(f.kind);
        SleepUntilWall(wall_of(edge.at_ms));
        // A fault starts when it begins to be applied: a call the fault already touched
        // (a claim answered on a clock that has just jumped) must not come before it in the
        // history, which the merge orders by time.
        const int64_t applying_ms = clock.NowMs();
        json proof = json::object();
        Status st;
        std::unique_lock<std::mutex> procs_lock(procs_mu);
        // A process that died on its own (an OOM kill) and waits for its restart: a crash
        // takes over its restart (at the window's end), a pause has nothing to stop.
        auto already_down = [&](const std::string& name) {
          if (!restart_due.count(name)) return false;
          proof = {{"already_down", true}};
          return true;
        };
        switch (f.kind) {
          case FaultKindId::kWorkerCrash:
          case FaultKindId::kEngineCrash: {
            const std::string name = f.kind == FaultKindId::kEngineCrash ? server : f.target;
            if (edge.start) {
              if (already_down(name)) {
                restart_due.erase(name);
                break;
              }
              auto r = sup.Kill(name, SIGKILL);
              st = r.status();
              if (r.ok()) proof = {{"pid", r->pid}, {"ended", r->ToString()}};
            } else {
              st = start_again(name);
              if (st.ok()) proof = {{"restarted", sup.Pid(name)}};
            }
            break;
          }
          case FaultKindId::kPowerCut: {
            // The server dies with the power, and what it wrote but did not sync is gone:
            // the file system drops it once nothing writes any more.
            if (edge.start) {
              const bool down = already_down(server);
              if (down) restart_due.erase(server);  // restarted at the window's end
              if (!down && sup.Running(server)) {
                auto r = sup.Kill(server, SIGKILL);
                st = r.status();
                if (r.ok()) {
                  proof["pid"] = r->pid;
                  proof["ended"] = r->ToString();
                }
              }
              auto cut = power->Cut();
              if (!cut.ok()) {
                st = cut.status();
              } else {
                for (const char* k :
                     {"files_reverted", "bytes_dropped", "entries_undone", "fsyncgate_bytes"})
                  proof[k] = (*cut)[k];
              }
            } else {
              st = start_again(server);
              if (st.ok()) proof = {{"restarted", sup.Pid(server)}};
            }
            break;
          }
          case FaultKindId::kWorkerPause:
          case FaultKindId::kSinkOutage: {
            const std::string name = f.kind == FaultKindId::kSinkOutage ? "sink" : f.target;
            if (already_down(name)) break;
            if (!edge.start && !sup.Running(name)) {
              proof = {{"was_down", true}};
              break;
            }
            st = edge.start ? sup.Pause(name) : sup.Resume(name);
            proof = {{"pid", sup.Pid(name)}, {"signal", edge.start ? "SIGSTOP" : "SIGCONT"}};
            break;
          }
          case FaultKindId::kWorkerLeak:
          case FaultKindId::kSinkLeak: {
            const std::string name = f.kind == FaultKindId::kSinkLeak ? "sink" : f.target;
            if (edge.start) {
              leaking.insert(name);
              ooms[name] = 0;
              rss_before[edge.fault] = RssBytesOf(sup.Pid(name));
              if (!already_down(name)) st = sup.Signal(name, SIGUSR1);
              proof["pid"] = sup.Pid(name);
              proof["signal"] = "SIGUSR1";
              proof["rss_bytes"] = rss_before[edge.fault];
            } else {
              leaking.erase(name);
              if (!already_down(name)) st = sup.Signal(name, SIGUSR2);
              proof["pid"] = sup.Pid(name);
              proof["signal"] = "SIGUSR2";
              proof["rss_bytes_at_start"] = rss_before[edge.fault];
              proof["rss_bytes"] = RssBytesOf(sup.Pid(name));
              proof["oom_kills"] = ooms[name];
            }
            break;
          }
          case FaultKindId::kPartition:
          case FaultKindId::kResponseLoss:
          case FaultKindId::kFlakyNetwork: {
            const auto ps = targets(f, f.kind == FaultKindId::kPartition);
            FaultProxy::Settings set;
            if (edge.start) {
              set.mode = f.kind == FaultKindId::kPartition      ? FaultProxy::Mode::kBlackhole
                         : f.kind == FaultKindId::kResponseLoss ? FaultProxy::Mode::kLoseAnswers
                                                                : FaultProxy::Mode::kPass;
              if (f.kind == FaultKindId::kFlakyNetwork) {
                set.drop = f.probability;
                set.jitter_ms = std::max<int64_t>(1, static_cast<int64_t>(200 / o.time_scale));
              }
              before[edge.fault] = sum(ps);
            }
            for (FaultProxy* p : ps) p->Set(set);
            if (!edge.start) {
              const auto now = sum(ps), was = before[edge.fault];
              proof = {{"links", ps.size()},
                       {"discarded_up", now.discarded_up - was.discarded_up},
                       {"discarded_down", now.discarded_down - was.discarded_down},
                       {"resets", now.resets - was.resets}};
            } else {
              proof = {{"links", ps.size()}};
            }
            break;
          }
          case FaultKindId::kFsyncError:
          case FaultKindId::kWriteError: {
            const std::string point(Name(f.kind));
            if (edge.start) {
              st = set_disk_fault(f, true, s.seed + edge.fault);
              proof["mechanism"] = via_powerfs(f.kind) ? "powerfs-fsyncgate" : "libfiu";
            } else {
              // Armed but not hit yet (the engine wrote nothing in the window: at a high
              // time scale a window is a few wall milliseconds): it stays armed until the
              // first failure, at most kFiuExtension times its length more; the history
              // records when it really ended and by how much it was extended. Never hit:
              // the scenario asked for a fault that did not happen, a harness fault.
              int64_t fired = fires(f.kind) - fires_before[edge.fault];
              const int64_t scheduled_end = clock.NowMs() - origin;
              const int64_t give_up = scheduled_end + kFiuExtension * f.duration_ms;
              while (fired <= 0 && clock.NowMs() - origin < give_up) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                fired = fires(f.kind) - fires_before[edge.fault];
              }
              st = set_disk_fault(f, false, 0);
              proof = {{"fires", fired},
                       {"mechanism", via_powerfs(f.kind) ? "powerfs-fsyncgate" : "libfiu"}};
              if (const int64_t extended = clock.NowMs() - origin - scheduled_end; fired > 0 &&
                                                                                   extended > 0)
                proof["extended_ms"] = extended;
              if (st.ok() && fired <= 0) {
                st = Status::Unavailable(
                    point + " was armed for " +
                    std::to_string((1 + kFiuExtension) * f.duration_ms) +
                    " run ms and failed no call (fires " + std::to_string(fired) + ")");
              }
            }
            break;
          }
          case FaultKindId::kClockJump: {
            const int64_t offset = edge.start ? f.duration_ms : 0;
            auto previous = target.SetClockOffset(direct_address, offset);
            st = previous.status();
            proof = {{"offset_ms", offset}, {"previous_ms", previous.ok() ? *previous : 0}};
            break;
          }
          default:
            st = Status::InvalidArgument(std::string(Name(f.kind)) + ": not in real mode yet");
        }
        json v = f.target.empty() ? json::object() : json{{"target", f.target}};
        v["duration_ms"] = f.duration_ms;
        v["proof"] = proof;
        const int64_t at_ms = edge.start ? applying_ms : clock.NowMs();
        rec.EmitAt((at_ms - origin) * 1'000'000, "nemesis", EventType::kFault,
                   FaultEdgeName(Name(f.kind), edge.start), "", v.dump(),
                   st.ok() ? "" : "did not fire: " + st.ToString());
        if (!st.ok()) nemesis_failures++;
      }
    });

    // The clients: each submits its chains in time order, a chain's tasks one after the
    // other (each after the previous create was answered).
    std::atomic<int64_t> requests{0};
    std::vector<std::thread> clients;
    // The hooks (the engine's own cron hooks): each created at its time by its client,
    // retried while the outcome is unknown but never after its removal time, and removed
    // at its end (both are idempotent), as the simulator's clients do.
    for (size_t h = 0; h < workload.hooks.size(); ++h) {
      clients.emplace_back([&, h] {
        const PlannedHook& hook = workload.hooks[h];
        const std::string proc = "client-" + std::to_string(hook.client);
        const auto q = target.Connect("127.0.0.1:" + std::to_string(client_ports[hook.client]),
                                      ctx.attempt_wall_ms, 7'000 + h);
        const std::string v = json{{"hook", hook.def.hook_id}}.dump();
        auto call = [&](const std::string& f, int64_t give_up_ms) {
          for (int attempt = 0; attempt < kHookAttempts; ++attempt) {
            rec.Emit(proc, EventType::kInvoke, f, "", v);
            requests++;
            const Status r = f == "create-hook" ? q->CreateHook(hook.def)
                                                : q->RemoveHook(hook.def.hook_id);
            if (r.ok()) {
              rec.Emit(proc, EventType::kOk, f, "", v);
              return;
            }
            const bool unknown = r.code() == engine::StatusCode::kUnavailable ||
                                 r.code() == engine::StatusCode::kDeadlineExceeded;
            rec.Emit(proc, unknown ? EventType::kInfo : EventType::kFail, f, "", "", r.ToString());
            if (!unknown || clock.NowMs() - origin >= give_up_ms) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50 << std::min(attempt, 4)));
          }
        };
        SleepUntilWall(wall_of(hook.at_ms));
        call("create-hook", hook.until_ms);
        SleepUntilWall(wall_of(hook.until_ms));
        call("remove-hook", std::numeric_limits<int64_t>::max());
      });
    }
    for (auto& [client, subs] : by_client) {
      const std::string proc = "client-" + std::to_string(client);
      const int port = client_ports[client];
      clients.emplace_back([&, proc, port, subs = subs] {
        const auto q = target.Connect("127.0.0.1:" + std::to_string(port), ctx.attempt_wall_ms,
                                      static_cast<uint64_t>(port));
        for (const Submission* sub : subs) {
          SleepUntilWall(wall_of(sub->at_ms));
          for (size_t k : sub->tasks) {
            engine::TaskDefinition d = *workload.tasks[k].def;
            d.created_ms = workload.tasks[k].created_at_ms >= 0
                               ? origin + workload.tasks[k].created_at_ms
                               : clock.NowMs();
            d.deadline_ms = d.created_ms + workload.tasks[k].deadline_after_ms;
            rec.Emit(proc, EventType::kInvoke, "create", d.task_id, CreateValue(d));
            requests++;
            engine::TaskStatus st;
            const Status r = q->Create(d, &st);
            if (r.ok()) {
              rec.Emit(proc, EventType::kOk, "create", d.task_id,
                       "{\"task_id\":" + json(st.task_id).dump() + "}");
            } else {
              const bool unknown = r.code() == engine::StatusCode::kUnavailable ||
                                   r.code() == engine::StatusCode::kDeadlineExceeded;
              rec.Emit(proc, unknown ? EventType::kInfo : EventType::kFail, "create", d.task_id,
                       "", r.ToString());
            }
          }
        }
      });
    }
    for (auto& t : clients) t.join();
    nemesis.join();
    summary.requests = requests;

    // Quiet: no planned task pending or running, past the latest deadline that falls
    // before the hard end; or the hard end itself.
    int64_t last_ms = std::max(workload.last_ms, LastFaultEndMs(s.faults));
    for (const Submission& sub : workload.submissions) last_ms = std::max(last_ms, sub.LastAtMs());
    for (const PlannedHook& hook : workload.hooks) last_ms = std::max(last_ms, hook.until_ms);
    const int64_t hard_end = last_ms + s.heal_ms;
    int64_t latest_deadline = 0;
    const auto direct = target.Connect(direct_address, ctx.attempt_wall_ms, 0);
    for (;;) {
      const int64_t now = clock.NowMs() - origin;
      if (now >= hard_end) break;
      bool busy = now < last_ms;  // the workload and the faults are not over yet
      for (const PlannedTask& t : workload.tasks) {
        if (busy) break;
        engine::TaskStatus st;
        const Status r = direct->GetStatus(t.def->task_id, &st);
        if (r.code() == engine::StatusCode::kNotFound) continue;  // never created
        if (!r.ok()) {
          busy = true;  // the engine is not answering: not quiet
          break;
        }
        if (st.deadline_ms - origin <= hard_end)
          latest_deadline = std::max(latest_deadline, st.deadline_ms - origin);
        if (st.state == engine::TaskState::kPending || st.state == engine::TaskState::kRunning) {
          busy = true;
          break;
        }
      }
      if (!busy && summary.drain_ms < 0) summary.drain_ms = now - last_ms;
      if (!busy && now >= latest_deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    watching = false;
    watcher.join();
    for (int w = 0; w < s.workers; ++w) (void)sup.Kill("worker-" + std::to_string(w), SIGTERM);
    for (const PlannedTask& t : workload.tasks) {
      engine::TaskStatus st;
      const Status r = direct->GetStatus(t.def->task_id, &st);
      if (r.ok()) {
        rec.Emit("final", EventType::kFinal, "status", t.def->task_id, FinalJson(st, origin));
      } else {
        rec.Emit("final", EventType::kFinal, "status", t.def->task_id, "",
                 r.code() == engine::StatusCode::kNotFound ? "not found" : r.ToString());
      }
    }
    summary.scenario_ms = clock.NowMs() - origin;
    // The sink's deliveries are the effects, at the time the sink saw them.
    rpc::SinkClient sink(rpc::Connect("127.0.0.1:" + std::to_string(sink_port)));
    std::vector<v1::Delivery> deliveries;
    ITHAPPENS_RETURN_IF_ERROR(sink.ListDeliveries(&deliveries));
    for (const auto& d : deliveries) {
      const std::string& key = d.idempotency_key();
      const int64_t step = std::stoll(key.substr(key.rfind('/') + 1));
      json v = {{"key", key}, {"step", step}, {"run", d.run_id()}, {"channel", d.channel()},
                {"to", d.recipient()}, {"delivered", d.delivered()}};
      rec.EmitAt((d.t_ms() - origin) * 1'000'000, "sink", EventType::kEffect, "deliver",
                 d.task_id(), v.dump());
    }
    (void)rec.Close(&record_error);
  }
  if (power) {
    // The file system goes last and gracefully: the target first (its files closed), then
    // SIGTERM, on which ithappens-powerfs unmounts itself.
    (void)sup.Kill(server, SIGKILL);
    (void)sup.Kill("powerfs", SIGTERM);
  }
  sup.TearDown();
  if (power && !Unmount(data_dir.string()).ok())
    return Status::Unavailable(data_dir.string() + ": the power-cut file system stayed mounted");
  for (auto& [name, p] : proxies) p->Stop();
  if (!record_error.empty()) return Status::Unavailable(record_error);
  std::vector<fs::path> sources = {own};
  for (const auto& l : op_logs) sources.emplace_back(l);
  const fs::path history = run_dir / "history.jsonl";
  ITHAPPENS_RETURN_IF_ERROR(MergeHistories(sources, history));
  std::string error;
  int64_t events = 0;
  ReadEvents(history.string(), [&](const EventView&) { ++events; }, &error);
  summary.events = events;
  if (watcher_failures > 0) {
    return Status::Unavailable(std::to_string(watcher_failures.load()) +
                               " restart(s) of a process that ended on its own failed (see the "
                               "supervisor's info events in " + history.string() + ")");
  }
  if (nemesis_failures > 0) {
    return Status::Unavailable(std::to_string(nemesis_failures.load()) +
                               " scheduled fault edge(s) did not fire (see the fault events' "
                               "errors in " + history.string() + ")");
  }
  summary.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - wall_start)
                        .count();
  return summary;
}

}  // namespace ithappens::harness
