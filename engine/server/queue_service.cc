#include "engine/server/queue_service.h"

#include "engine/wire_convert.h"
#include "engine/fault_points.h"
#include "engine/wire_size.h"

namespace ithappens::server {

using engine::RunRef;
using rpc::FromProto;
using rpc::ToGrpc;
using rpc::ToProto;

namespace {

RunRef Ref(const v1::RunRef& r) {
  return RunRef{r.task_id(), r.run_id(), r.worker_group(), r.worker_id()};
}

// One item of a batch answer. Its status goes in while the answer stays within the budget
// (1000 statuses of up to 50 runs do not fit 8 MiB); past it the item keeps its code and
// says where to read the status, so a committed item is never answered with an error.
void AddItem(const engine::Status& st, const engine::TaskStatus* status, v1::BatchResponse* resp,
             size_t* budget) {
  auto* item = resp->add_results();
  item->set_code(static_cast<int>(st.code()));
  item->set_message(st.message().substr(0, 1024));
  if (st.ok() && status) {
    const size_t size = engine::StatusWireSizeBound(*status);
    if (size <= *budget) {
      *budget -= size;
      ToProto(*status, item->mutable_status());
    } else {
      item->set_message("status left out: the answer is capped at " +
                        std::to_string(engine::kResponseBudgetBytes) +
                        " bytes; read it with Status");
    }
  }
  // The item's own bytes: code, message and envelope.
  const size_t own = 32 + item->message().size();
  *budget = *budget > own ? *budget - own : 0;
}

}  // namespace

grpc::Status QueueService::Answer(const char* rpc, const engine::Status& st) {
  // Platform-side failures are logged with their cause; caller mistakes at debug level.
  if (st.code() == engine::StatusCode::kUnavailable || st.code() == engine::StatusCode::kInternal) {
    log_->error("{}: {}", rpc, st.ToString());
  } else if (!st.ok()) {
    log_->debug("{}: {}", rpc, st.ToString());
  }
  return ToGrpc(st);
}

grpc::Status QueueService::CreateTask(grpc::ServerContext*, const v1::CreateTaskRequest* req,
                                      v1::TaskStatusResponse* resp) {
  engine::TaskDefinition def;
  engine::Status st = FromProto(req->task(), &def);
  engine::TaskStatus status;
  if (st.ok()) st = queue_->CreateTask(std::move(def), &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("CreateTask", st);
}

grpc::Status QueueService::CreateTasks(grpc::ServerContext*, const v1::CreateTasksRequest* req,
                                       v1::BatchResponse* resp) {
  if (req->tasks_size() > static_cast<int>(engine::kMaxBatchItems)) {
    return Answer("CreateTasks",
                  engine::Status::ResourceExhausted("tasks: " + std::to_string(req->tasks_size()) +
                                                    " items exceed the limit of " +
                                                    std::to_string(engine::kMaxBatchItems)));
  }
  // Items that do not even convert are answered alone; the rest go in as one change.
  std::vector<engine::Status> conversion(req->tasks_size());
  std::vector<engine::TaskDefinition> defs;
  for (int i = 0; i < req->tasks_size(); ++i) {
    engine::TaskDefinition def;
    conversion[i] = FromProto(req->tasks(i), &def);
    if (conversion[i].ok()) {
      defs.push_back(std::move(def));
    }
  }
  std::vector<engine::Status> results;
  std::vector<engine::TaskStatus> statuses;
  engine::Status commit = queue_->CreateTasks(std::move(defs), &results, &statuses);
  if (!commit.ok()) log_->error("CreateTasks: {}", commit.ToString());
  size_t budget = engine::kResponseBudgetBytes;
  for (int i = 0, k = 0; i < req->tasks_size(); ++i) {
    if (!conversion[i].ok()) {
      AddItem(conversion[i], nullptr, resp, &budget);
    } else {
      AddItem(results[k], &statuses[k], resp, &budget);
      ++k;
    }
  }
  return grpc::Status::OK;
}

grpc::Status QueueService::GetTask(grpc::ServerContext*, const v1::TaskIdRequest* req,
                                   v1::TaskDefinition* resp) {
  auto def = queue_->GetTask(req->task_id());
  if (def.ok()) ToProto(**def, resp);
  return Answer("GetTask", def.status());
}

grpc::Status QueueService::Status(grpc::ServerContext*, const v1::TaskIdRequest* req,
                                  v1::TaskStatusResponse* resp) {
  engine::TaskStatus status;
  engine::Status st = queue_->GetStatus(req->task_id(), &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("Status", st);
}

grpc::Status QueueService::ListTaskGroup(grpc::ServerContext*, const v1::ListTaskGroupRequest* req,
                                         v1::ListTaskGroupResponse* resp) {
  auto page = queue_->ListTaskGroup(req->task_group_id(), req->continuation_token(), req->limit());
  if (page.ok()) {
    for (const auto& t : page->tasks) ToProto(t, resp->add_tasks());
    resp->set_continuation_token(page->continuation);
  }
  return Answer("ListTaskGroup", page.status());
}

grpc::Status QueueService::ClaimWork(grpc::ServerContext*, const v1::ClaimWorkRequest* req,
                                     v1::ClaimWorkResponse* resp) {
  std::vector<engine::Claim> claims;
  engine::Status st =
      queue_->ClaimWork(req->worker_group(), req->worker_id(), req->tasks(), &claims);
  if (st.ok()) {
    for (const auto& c : claims) {
      auto* t = resp->add_tasks();
      ToProto(*c.task, t->mutable_task());
      t->set_run_id(c.run_id);
      t->set_taken_until_ms(c.taken_until_ms);
    }
  }
  return Answer("ClaimWork", st);
}

grpc::Status QueueService::ReclaimTask(grpc::ServerContext*, const v1::ReportRequest* req,
                                       v1::ReclaimTaskResponse* resp) {
  engine::TimeMs until = 0;
  engine::Status st = queue_->ReclaimTask(Ref(req->run()), &until);
  resp->set_taken_until_ms(until);
  return Answer("ReclaimTask", st);
}

grpc::Status QueueService::ReportCompleted(grpc::ServerContext*, const v1::ReportRequest* req,
                                           v1::TaskStatusResponse* resp) {
  engine::TaskStatus status;
  engine::Status st = queue_->ReportCompleted(Ref(req->run()), &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("ReportCompleted", st);
}

grpc::Status QueueService::ReportCompletedBatch(grpc::ServerContext*,
                                                const v1::ReportBatchRequest* req,
                                                v1::BatchResponse* resp) {
  std::vector<RunRef> runs;
  for (const auto& r : req->runs()) runs.push_back(Ref(r));
  std::vector<engine::Status> results;
  engine::Status commit = queue_->ReportCompletedBatch(runs, &results);
  if (commit.code() == engine::StatusCode::kResourceExhausted)
    return Answer("ReportCompletedBatch", commit);
  if (!commit.ok()) log_->error("ReportCompletedBatch: {}", commit.ToString());
  size_t budget = engine::kResponseBudgetBytes;
  for (const auto& r : results) AddItem(r, nullptr, resp, &budget);
  return grpc::Status::OK;
}

grpc::Status QueueService::ReportFailed(grpc::ServerContext*, const v1::ReportRequest* req,
                                        v1::TaskStatusResponse* resp) {
  engine::TaskStatus status;
  engine::Status st = queue_->ReportFailed(Ref(req->run()), &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("ReportFailed", st);
}

grpc::Status QueueService::ReportException(grpc::ServerContext*, const v1::ReportRequest* req,
                                           v1::TaskStatusResponse* resp) {
  engine::ReasonResolved reason;
  if (!engine::Parse(req->reason(), &reason)) {
    return Answer("ReportException",
                  engine::Status::InvalidArgument("reason: unknown value '" +
                                                  req->reason().substr(0, 64) + "'"));
  }
  engine::TaskStatus status;
  engine::Status st = queue_->ReportException(Ref(req->run()), reason, &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("ReportException", st);
}

grpc::Status QueueService::CancelTask(grpc::ServerContext*, const v1::TaskIdRequest* req,
                                      v1::TaskStatusResponse* resp) {
  engine::TaskStatus status;
  engine::Status st = queue_->CancelTask(req->task_id(), &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("CancelTask", st);
}

grpc::Status QueueService::RerunTask(grpc::ServerContext*, const v1::TaskIdRequest* req,
                                     v1::TaskStatusResponse* resp) {
  engine::TaskStatus status;
  engine::Status st = queue_->RerunTask(req->task_id(), &status);
  if (st.ok()) ToProto(status, resp->mutable_status());
  return Answer("RerunTask", st);
}

grpc::Status QueueService::CreateHook(grpc::ServerContext*, const v1::CreateHookRequest* req,
                                      v1::Empty*) {
  engine::HookDefinition hook;
  engine::Status st = FromProto(req->hook(), &hook);
  if (st.ok()) st = queue_->CreateHook(std::move(hook));
  return Answer("CreateHook", st);
}

grpc::Status QueueService::RemoveHook(grpc::ServerContext*, const v1::RemoveHookRequest* req,
                                      v1::Empty*) {
  return Answer("RemoveHook", queue_->RemoveHook(req->hook_id()));
}

grpc::Status QueueService::Health(grpc::ServerContext*, const v1::Empty*,
                                  v1::HealthResponse* resp) {
  int64_t tasks = 0;
  for (int64_t n : queue_->CountByState()) tasks += n;
  resp->set_status("SERVING");
  resp->set_tasks(tasks);
  resp->set_store(store_name_);
  resp->set_engine_bugs(queue_->options().bugs.ToString());
  resp->set_fault_point_fires(engine::FaultPointFireCount());
  return grpc::Status::OK;
}

}  // namespace ithappens::server
