// The Queue gRPC service: converts wire messages, calls the engine's Queue, and maps its
// Status one-to-one onto gRPC status codes. Batch RPCs answer per item; the batch itself
// fails only when it is over the limit (RESOURCE_EXHAUSTED). Thread-safe (the Queue is).
#pragma once

#include <spdlog/spdlog.h>

#include "engine/proto/queue.grpc.pb.h"
#include "engine/queue.h"

namespace ithappens::server {

class QueueService final : public v1::Queue::Service {
 public:
  QueueService(engine::Queue* queue, std::string store_name, std::shared_ptr<spdlog::logger> log)
      : queue_(queue), store_name_(std::move(store_name)), log_(std::move(log)) {}

  grpc::Status CreateTask(grpc::ServerContext*, const v1::CreateTaskRequest*,
                          v1::TaskStatusResponse*) override;
  grpc::Status CreateTasks(grpc::ServerContext*, const v1::CreateTasksRequest*,
                           v1::BatchResponse*) override;
  grpc::Status GetTask(grpc::ServerContext*, const v1::TaskIdRequest*,
                       v1::TaskDefinition*) override;
  grpc::Status Status(grpc::ServerContext*, const v1::TaskIdRequest*,
                      v1::TaskStatusResponse*) override;
  grpc::Status ListTaskGroup(grpc::ServerContext*, const v1::ListTaskGroupRequest*,
                             v1::ListTaskGroupResponse*) override;
  grpc::Status ClaimWork(grpc::ServerContext*, const v1::ClaimWorkRequest*,
                         v1::ClaimWorkResponse*) override;
  grpc::Status ReclaimTask(grpc::ServerContext*, const v1::ReportRequest*,
                           v1::ReclaimTaskResponse*) override;
  grpc::Status ReportCompleted(grpc::ServerContext*, const v1::ReportRequest*,
                               v1::TaskStatusResponse*) override;
  grpc::Status ReportCompletedBatch(grpc::ServerContext*, const v1::ReportBatchRequest*,
                                    v1::BatchResponse*) override;
  grpc::Status ReportFailed(grpc::ServerContext*, const v1::ReportRequest*,
                            v1::TaskStatusResponse*) override;
  grpc::Status ReportException(grpc::ServerContext*, const v1::ReportRequest*,
                               v1::TaskStatusResponse*) override;
  grpc::Status CancelTask(grpc::ServerContext*, const v1::TaskIdRequest*,
                          v1::TaskStatusResponse*) override;
  grpc::Status RerunTask(grpc::ServerContext*, const v1::TaskIdRequest*,
                         v1::TaskStatusResponse*) override;
  grpc::Status CreateHook(grpc::ServerContext*, const v1::CreateHookRequest*, v1::Empty*) override;
  grpc::Status RemoveHook(grpc::ServerContext*, const v1::RemoveHookRequest*, v1::Empty*) override;
  grpc::Status Health(grpc::ServerContext*, const v1::Empty*, v1::HealthResponse*) override;

 private:
  grpc::Status Answer(const char* rpc, const engine::Status& st);
  engine::Queue* queue_;
  std::string store_name_;
  std::shared_ptr<spdlog::logger> log_;
};

// Real mode's control of the engine's clock (the clock-jump fault), logged.
class EngineControlService final : public v1::EngineControl::Service {
 public:
  EngineControlService(engine::ScaledClock* clock, std::shared_ptr<spdlog::logger> log)
      : clock_(clock), log_(std::move(log)) {}
  grpc::Status SetClockOffset(grpc::ServerContext*, const v1::ClockOffset* req,
                              v1::ClockOffset* previous) override {
    previous->set_offset_ms(clock_->offset_ms());
    clock_->SetOffsetMs(req->offset_ms());
    log_->warn("clock offset {} ms -> {} ms (a clock jump)", previous->offset_ms(),
               req->offset_ms());
    return grpc::Status::OK;
  }

 private:
  engine::ScaledClock* clock_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace ithappens::server
