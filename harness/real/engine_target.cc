// The reference engine as a real-mode target (harness/real/target.h).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>

#include "engine/fault_points.h"
#include "engine/queue_client.h"
#include "harness/real/fiu_control.h"
#include "harness/real/target.h"

namespace ithappens::harness {

using engine::Status;

namespace {

class EngineClient final : public PlatformClient {
 public:
  EngineClient(const std::string& address, int64_t attempt_wall_ms, uint64_t seed)
      : q_(rpc::Connect(address), rpc::RetryPolicy{.attempt_deadline_ms = attempt_wall_ms},
           seed) {}
  Status Create(const engine::TaskDefinition& def, engine::TaskStatus* status) override {
    return q_.CreateTask(def, status);
  }
  Status GetStatus(const std::string& task_id, engine::TaskStatus* status) override {
    return q_.GetStatus(task_id, status);
  }
  Status CreateHook(const engine::HookDefinition& hook) override { return q_.CreateHook(hook); }
  Status RemoveHook(const std::string& hook_id) override { return q_.RemoveHook(hook_id); }

 private:
  rpc::QueueClient q_;
};

class EngineTarget final : public RealTarget {
 public:
  std::string Name() const override { return "ithappens-engine"; }

  bool Supports(FaultKindId) const override { return true; }

  ProcessSpec Server(const RunContext& run, int port) const override {
    const std::string port_file = (run.real_dir / "engine.port").string();
    ProcessSpec spec{"engine",
                     {Bin(run, "ithappens-engine"), "--listen",
                      "127.0.0.1:" + std::to_string(port), "--db",
                      (run.data_dir / "queue.db").string(), "--port-file", port_file,
                      "--claim-timeout-ms", std::to_string(run.scenario->claim_timeout_ms),
                      "--tick-ms", std::to_string(TickWallMs(run)), "--time-scale",
                      std::to_string(run.time_scale),
                      "--time-origin-ms", std::to_string(run.origin_ms), "--fiu-fifo",
                      FiuBase(run)},
                     port_file};
    AddBugs(run, &spec);
    return spec;
  }

  ProcessSpec Worker(const RunContext& run, int w, const std::string& platform,
                     const std::string& sink, const std::string& op_log) const override {
    const std::string name = "worker-" + std::to_string(w);
    ProcessSpec spec{name,
                     {Bin(run, "ithappens-worker"), "--engine", platform, "--sink", sink,
                      "--worker-id", name, "--capacity", std::to_string(run.scenario->capacity),
                      "--poll-ms", std::to_string(run.poll_wall_ms), "--history", op_log,
                      "--time-scale", std::to_string(run.time_scale), "--time-origin-ms",
                      std::to_string(run.origin_ms), "--seed", std::to_string(w + 1),
                      "--switched-leak-mb-per-task", std::to_string(run.worker_leak_mb_per_task),
                      "--attempt-deadline-ms", std::to_string(run.attempt_wall_ms)},
                     ""};
    spec.memory_limit_bytes = run.worker_memory_limit_mb << 20;
    AddBugs(run, &spec);  // effect-key-per-run is the worker's
    return spec;
  }

  std::unique_ptr<PlatformClient> Connect(const std::string& address, int64_t attempt_wall_ms,
                                          uint64_t seed) const override {
    return std::make_unique<EngineClient>(address, attempt_wall_ms, seed);
  }

  Status SetDiskFault(const RunContext& run, pid_t server, FaultKindId kind, bool on,
                      double probability) const override {
    const char* point = kind == FaultKindId::kFsyncError ? engine::kFaultStoreFsync
                                                         : engine::kFaultStoreWrite;
    FiuControl fiu(FiuBase(run), server);
    return on ? fiu.Enable(point, probability) : fiu.Disable(point);
  }

  engine::Result<int64_t> DiskFaultFires(const std::string& address) const override {
    rpc::QueueClient q(rpc::Connect(address));
    v1::HealthResponse h;
    ITHAPPENS_RETURN_IF_ERROR(q.Health(&h));
    return h.fault_point_fires();
  }

  engine::Result<int64_t> SetClockOffset(const std::string& address,
                                         int64_t offset_ms) const override {
    auto control = v1::EngineControl::NewStub(rpc::Connect(address));
    v1::ClockOffset jump, previous;
    jump.set_offset_ms(offset_ms);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    const auto g = control->SetClockOffset(&ctx, jump, &previous);
    if (!g.ok()) return Status::Unavailable("SetClockOffset: " + g.error_message());
    return previous.offset_ms();
  }

 private:
  static std::string Bin(const RunContext& run, const char* name) {
    return (std::filesystem::path(run.bin_dir) / name).string();
  }
  // The engine's reaper and hooks run every 200 run ms, at most every 20 wall ms.
  static int64_t TickWallMs(const RunContext& run) {
    return std::clamp<int64_t>(static_cast<int64_t>(200 / run.time_scale), 1, 20);
  }
  static std::string FiuBase(const RunContext& run) { return (run.real_dir / "fiu").string(); }
  static void AddBugs(const RunContext& run, ProcessSpec* spec) {
    for (const auto& b : run.bug_names) {
      spec->argv.push_back("--engine-bug");
      spec->argv.push_back(b);
    }
  }
};

}  // namespace

std::unique_ptr<RealTarget> MakeEngineTarget() { return std::make_unique<EngineTarget>(); }

}  // namespace ithappens::harness
