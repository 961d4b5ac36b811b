// Clients of the engine's gRPC services, shared by the worker and the harness. Every call
// has a per-attempt deadline and is retried on UNAVAILABLE and DEADLINE_EXCEEDED with
// exponential backoff and jitter (every Queue call is idempotent, so a retry of a call
// whose answer was lost is safe). The jitter comes from a seeded PRNG, never from the
// wall clock.
//
// Thread-safe: one client may be shared by many threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/proto/queue.grpc.pb.h"
#include "engine/status.h"
#include "engine/task.h"

namespace ithappens::rpc {

using engine::Status;

struct RetryPolicy {
  int max_attempts = 8;  // total, including the first
  int64_t attempt_deadline_ms = 5000;
  int64_t initial_backoff_ms = 20;
  int64_t max_backoff_ms = 2000;
  double jitter = 0.5;  // each backoff is scaled by 1 - jitter * U[0, 1)
};

// A channel to host:port with our message size limits. Channels to one target share a
// TCP connection unless own_connection (a client per connection, as separate processes
// would be: the benchmarks' client threads).
std::shared_ptr<grpc::Channel> Connect(const std::string& target, bool own_connection = false);

class Retrier {
 public:
  Retrier(RetryPolicy policy, uint64_t seed) : policy_(policy), rng_(seed) {}
  // Runs attempt(context) until it succeeds, fails for good, or attempts run out.
  template <typename Attempt>
  grpc::Status Run(Attempt&& attempt);
  uint64_t retries() const { return retries_.load(); }
  const RetryPolicy& policy() const { return policy_; }

 private:
  int64_t BackoffMs(int attempt);
  RetryPolicy policy_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<uint64_t> retries_{0};
};

struct ClaimedTask {
  engine::TaskDefinition task;
  uint32_t run_id = 0;
  engine::TimeMs taken_until_ms = 0;
};

class QueueClient {
 public:
  QueueClient(std::shared_ptr<grpc::Channel> channel, RetryPolicy policy = {}, uint64_t seed = 1);

  Status CreateTask(const engine::TaskDefinition& def, engine::TaskStatus* status = nullptr);
  // Per-item answers in *results (same order); the call's own status is about the batch.
  Status CreateTasks(const std::vector<engine::TaskDefinition>& defs, std::vector<Status>* results);
  Status GetStatus(const std::string& task_id, engine::TaskStatus* status);
  Status ListTaskGroup(const std::string& group, const std::string& continuation, int limit,
                       std::vector<engine::TaskStatus>* tasks, std::string* next);
  Status ClaimWork(const std::string& group, const std::string& worker, int n,
                   std::vector<ClaimedTask>* claims);
  Status ReclaimTask(const engine::RunRef& run, engine::TimeMs* taken_until_ms);
  Status ReportCompleted(const engine::RunRef& run, engine::TaskStatus* status = nullptr);
  Status ReportCompletedBatch(const std::vector<engine::RunRef>& runs,
                              std::vector<Status>* results);
  Status ReportFailed(const engine::RunRef& run, engine::TaskStatus* status = nullptr);
  Status ReportException(const engine::RunRef& run, engine::ReasonResolved reason,
                         engine::TaskStatus* status = nullptr);
  Status CancelTask(const std::string& task_id, engine::TaskStatus* status = nullptr);
  Status RerunTask(const std::string& task_id, engine::TaskStatus* status = nullptr);
  Status CreateHook(const engine::HookDefinition& hook);
  Status RemoveHook(const std::string& hook_id);
  Status Health(v1::HealthResponse* out);
  uint64_t retries() const { return retrier_.retries(); }

 private:
  Status Report(const char* what, const engine::RunRef& run, const std::string& reason,
                engine::TaskStatus* status);
  std::unique_ptr<v1::Queue::Stub> stub_;
  Retrier retrier_;
};

class SinkClient {
 public:
  SinkClient(std::shared_ptr<grpc::Channel> channel, RetryPolicy policy = {}, uint64_t seed = 1);
  // *delivered is false when the sink dropped it as a duplicate of the same key.
  Status Deliver(const v1::DeliverRequest& request, bool* delivered);
  Status ListDeliveries(std::vector<v1::Delivery>* out);

 private:
  std::unique_ptr<v1::EffectSink::Stub> stub_;
  Retrier retrier_;
};

// ---- implementation of the template

template <typename Attempt>
grpc::Status Retrier::Run(Attempt&& attempt) {
  grpc::Status st;
  for (int i = 0; i < policy_.max_attempts; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(policy_.attempt_deadline_ms));
    st = attempt(&ctx);
    bool transient = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (st.ok() || !transient || i + 1 == policy_.max_attempts) break;
    retries_++;
    std::this_thread::sleep_for(std::chrono::milliseconds(BackoffMs(i)));
  }
  return st;
}

}  // namespace ithappens::rpc
