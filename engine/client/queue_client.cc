#include "engine/queue_client.h"

#include <algorithm>
#include <thread>

#include "engine/wire_convert.h"
#include "engine/wire_size.h"

namespace ithappens::rpc {

namespace {
constexpr int kMaxMessageBytes = static_cast<int>(engine::kMaxMessageBytes);

v1::RunRef ToProtoRef(const engine::RunRef& r) {
  v1::RunRef out;
  out.set_task_id(std::string(r.task_id));
  out.set_run_id(r.run_id);
  out.set_worker_group(std::string(r.worker_group));
  out.set_worker_id(std::string(r.worker_id));
  return out;
}

Status FillStatus(const grpc::Status& st, const v1::TaskStatusResponse& resp,
                  engine::TaskStatus* status) {
  if (!st.ok()) return FromGrpc(st);
  if (status) return FromProto(resp.status(), status);
  return Status::Ok();
}

void FillResults(const v1::BatchResponse& resp, std::vector<Status>* results) {
  results->clear();
  for (const auto& r : resp.results()) {
    results->push_back(r.code() == 0
                           ? Status::Ok()
                           : Status(static_cast<engine::StatusCode>(r.code()), r.message()));
  }
}
}  // namespace

std::shared_ptr<grpc::Channel> Connect(const std::string& target, bool own_connection) {
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Reconnect quickly after an engine restart (the default backoff grows to minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  // After a failed connection the channel reconnects only once its resolver answers again,
  // and the DNS resolver waits between answers (seen: 5 s and more with every call failing
  // in between, after an engine restart). An address answers at once.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 100);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

int64_t Retrier::BackoffMs(int attempt) {
  int64_t base = policy_.initial_backoff_ms << std::min(attempt, 20);
  base = std::min(base, policy_.max_backoff_ms);
  double u;
  {
    std::lock_guard<std::mutex> lock(rng_mu_);
    u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }
  return static_cast<int64_t>(static_cast<double>(base) * (1.0 - policy_.jitter * u));
}

QueueClient::QueueClient(std::shared_ptr<grpc::Channel> channel, RetryPolicy policy, uint64_t seed)
    : stub_(v1::Queue::NewStub(channel)), retrier_(policy, seed) {}

Status QueueClient::CreateTask(const engine::TaskDefinition& def, engine::TaskStatus* status) {
  v1::CreateTaskRequest req;
  ToProto(def, req.mutable_task());
  v1::TaskStatusResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->CreateTask(c, req, &resp); });
  return FillStatus(st, resp, status);
}

Status QueueClient::CreateTasks(const std::vector<engine::TaskDefinition>& defs,
                                std::vector<Status>* results) {
  v1::CreateTasksRequest req;
  for (const auto& d : defs) ToProto(d, req.add_tasks());
  v1::BatchResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->CreateTasks(c, req, &resp); });
  if (!st.ok()) return FromGrpc(st);
  FillResults(resp, results);
  return Status::Ok();
}

Status QueueClient::GetStatus(const std::string& task_id, engine::TaskStatus* status) {
  v1::TaskIdRequest req;
  req.set_task_id(task_id);
  v1::TaskStatusResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->Status(c, req, &resp); });
  return FillStatus(st, resp, status);
}

Status QueueClient::ListTaskGroup(const std::string& group, const std::string& continuation,
                                  int limit, std::vector<engine::TaskStatus>* tasks,
                                  std::string* next) {
  v1::ListTaskGroupRequest req;
  req.set_task_group_id(group);
  req.set_continuation_token(continuation);
  req.set_limit(limit);
  v1::ListTaskGroupResponse resp;
  auto st =
      retrier_.Run([&](grpc::ClientContext* c) { return stub_->ListTaskGroup(c, req, &resp); });
  if (!st.ok()) return FromGrpc(st);
  for (const auto& t : resp.tasks()) {
    ITHAPPENS_RETURN_IF_ERROR(FromProto(t, &tasks->emplace_back()));
  }
  *next = resp.continuation_token();
  return Status::Ok();
}

Status QueueClient::ClaimWork(const std::string& group, const std::string& worker, int n,
                              std::vector<ClaimedTask>* claims) {
  v1::ClaimWorkRequest req;
  req.set_worker_group(group);
  req.set_worker_id(worker);
  req.set_tasks(n);
  v1::ClaimWorkResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->ClaimWork(c, req, &resp); });
  if (!st.ok()) return FromGrpc(st);
  for (const auto& t : resp.tasks()) {
    ClaimedTask& out = claims->emplace_back();
    ITHAPPENS_RETURN_IF_ERROR(FromProto(t.task(), &out.task));
    out.run_id = t.run_id();
    out.taken_until_ms = t.taken_until_ms();
  }
  return Status::Ok();
}

Status QueueClient::ReclaimTask(const engine::RunRef& run, engine::TimeMs* taken_until_ms) {
  v1::ReportRequest req;
  *req.mutable_run() = ToProtoRef(run);
  v1::ReclaimTaskResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->ReclaimTask(c, req, &resp); });
  if (st.ok() && taken_until_ms) *taken_until_ms = resp.taken_until_ms();
  return FromGrpc(st);
}

Status QueueClient::Report(const char* what, const engine::RunRef& run, const std::string& reason,
                           engine::TaskStatus* status) {
  v1::ReportRequest req;
  *req.mutable_run() = ToProtoRef(run);
  req.set_reason(reason);
  v1::TaskStatusResponse resp;
  std::string_view w(what);
  auto st = retrier_.Run([&](grpc::ClientContext* c) {
    if (w == "completed") return stub_->ReportCompleted(c, req, &resp);
    if (w == "failed") return stub_->ReportFailed(c, req, &resp);
    return stub_->ReportException(c, req, &resp);
  });
  return FillStatus(st, resp, status);
}

Status QueueClient::ReportCompleted(const engine::RunRef& run, engine::TaskStatus* status) {
  return Report("completed", run, "", status);
}
Status QueueClient::ReportFailed(const engine::RunRef& run, engine::TaskStatus* status) {
  return Report("failed", run, "", status);
}
Status QueueClient::ReportException(const engine::RunRef& run, engine::ReasonResolved reason,
                                    engine::TaskStatus* status) {
  return Report("exception", run, std::string(engine::ToString(reason)), status);
}

Status QueueClient::ReportCompletedBatch(const std::vector<engine::RunRef>& runs,
                                         std::vector<Status>* results) {
  v1::ReportBatchRequest req;
  for (const auto& r : runs) *req.add_runs() = ToProtoRef(r);
  v1::BatchResponse resp;
  auto st = retrier_.Run(
      [&](grpc::ClientContext* c) { return stub_->ReportCompletedBatch(c, req, &resp); });
  if (!st.ok()) return FromGrpc(st);
  FillResults(resp, results);
  return Status::Ok();
}

Status QueueClient::CancelTask(const std::string& task_id, engine::TaskStatus* status) {
  v1::TaskIdRequest req;
  req.set_task_id(task_id);
  v1::TaskStatusResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->CancelTask(c, req, &resp); });
  return FillStatus(st, resp, status);
}

Status QueueClient::RerunTask(const std::string& task_id, engine::TaskStatus* status) {
  v1::TaskIdRequest req;
  req.set_task_id(task_id);
  v1::TaskStatusResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->RerunTask(c, req, &resp); });
  return FillStatus(st, resp, status);
}

Status QueueClient::CreateHook(const engine::HookDefinition& hook) {
  v1::CreateHookRequest req;
  ToProto(hook, req.mutable_hook());
  v1::Empty resp;
  return FromGrpc(
      retrier_.Run([&](grpc::ClientContext* c) { return stub_->CreateHook(c, req, &resp); }));
}

Status QueueClient::RemoveHook(const std::string& hook_id) {
  v1::RemoveHookRequest req;
  req.set_hook_id(hook_id);
  v1::Empty resp;
  return FromGrpc(
      retrier_.Run([&](grpc::ClientContext* c) { return stub_->RemoveHook(c, req, &resp); }));
}

Status QueueClient::Health(v1::HealthResponse* out) {
  v1::Empty req;
  return FromGrpc(retrier_.Run([&](grpc::ClientContext* c) { return stub_->Health(c, req, out); }));
}

SinkClient::SinkClient(std::shared_ptr<grpc::Channel> channel, RetryPolicy policy, uint64_t seed)
    : stub_(v1::EffectSink::NewStub(channel)), retrier_(policy, seed) {}

Status SinkClient::Deliver(const v1::DeliverRequest& request, bool* delivered) {
  v1::DeliverResponse resp;
  auto st = retrier_.Run([&](grpc::ClientContext* c) { return stub_->Deliver(c, request, &resp); });
  if (st.ok() && delivered) *delivered = resp.delivered();
  return FromGrpc(st);
}

Status SinkClient::ListDeliveries(std::vector<v1::Delivery>* out) {
  out->clear();
  v1::ListDeliveriesRequest req;
  do {  // page by page: each answer fits one message
    v1::ListDeliveriesResponse resp;
    auto st =
        retrier_.Run([&](grpc::ClientContext* c) { return stub_->ListDeliveries(c, req, &resp); });
    if (!st.ok()) return FromGrpc(st);
    out->insert(out->end(), resp.deliveries().begin(), resp.deliveries().end());
    req.set_from(resp.next());
  } while (req.from() != 0);
  return Status::Ok();
}

}  // namespace ithappens::rpc
