#include "engine/wire_convert.h"

namespace ithappens::rpc {
namespace {

template <typename E>
Status ParseOr(const std::string& s, E fallback, std::string_view field, E* out) {
  if (s.empty()) {
    *out = fallback;
    return Status::Ok();
  }
  if (engine::Parse(s, out)) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + ": unknown value '" + s.substr(0, 64) + "'");
}

std::string Field(std::string_view prefix, std::string_view name) {
  return std::string(prefix) + std::string(name);
}

}  // namespace

Status FromProto(const v1::TaskDefinition& in, engine::TaskDefinition* out, std::string_view p) {
  out->task_id = in.task_id();
  out->task_group_id = in.task_group_id();
  out->dependencies.assign(in.dependencies().begin(), in.dependencies().end());
  ITHAPPENS_RETURN_IF_ERROR(ParseOr(in.requires_mode(), engine::Requires::kAllCompleted,
                                    Field(p, "requires"), &out->requires_));
  out->retries = in.has_retries() ? in.retries() : engine::kDefaultRetries;
  out->created_ms = in.created_ms();
  out->deadline_ms = in.deadline_ms();
  out->expires_ms = in.expires_ms();
  ITHAPPENS_RETURN_IF_ERROR(
      ParseOr(in.priority(), engine::Priority::kLowest, Field(p, "priority"), &out->priority));
  out->routes.assign(in.routes().begin(), in.routes().end());
  out->payload = in.payload();
  out->metadata.name = in.metadata().name();
  out->metadata.description = in.metadata().description();
  out->metadata.owner = in.metadata().owner();
  out->metadata.source = in.metadata().source();
  return Status::Ok();
}

void ToProto(const engine::TaskDefinition& in, v1::TaskDefinition* out) {
  out->set_task_id(in.task_id);
  out->set_task_group_id(in.task_group_id);
  for (const auto& d : in.dependencies) out->add_dependencies(d);
  out->set_requires_mode(std::string(engine::ToString(in.requires_)));
  out->set_retries(in.retries);
  out->set_created_ms(in.created_ms);
  out->set_deadline_ms(in.deadline_ms);
  out->set_expires_ms(in.expires_ms);
  out->set_priority(std::string(engine::ToString(in.priority)));
  for (const auto& r : in.routes) out->add_routes(r);
  out->set_payload(in.payload);
  auto* m = out->mutable_metadata();
  m->set_name(in.metadata.name);
  m->set_description(in.metadata.description.str());
  m->set_owner(in.metadata.owner.str());
  m->set_source(in.metadata.source.str());
}

void ToProto(const engine::TaskStatus& in, v1::TaskStatus* out) {
  out->set_task_id(in.task_id);
  out->set_task_group_id(in.task_group_id);
  out->set_state(std::string(engine::ToString(in.state)));
  out->set_retries_left(in.retries_left);
  out->set_deadline_ms(in.deadline_ms);
  out->set_expires_ms(in.expires_ms);
  for (const auto& r : in.runs) {
    auto* o = out->add_runs();
    o->set_run_id(r.run_id);
    o->set_state(std::string(engine::ToString(r.state)));
    o->set_reason_created(std::string(engine::ToString(r.reason_created)));
    o->set_reason_resolved(std::string(engine::ToString(r.reason_resolved)));
    if (r.worker) {
      o->set_worker_group(r.worker->group);
      o->set_worker_id(r.worker->id);
    }
    o->set_taken_until_ms(r.taken_until_ms);
    o->set_scheduled_ms(r.scheduled_ms);
    o->set_started_ms(r.started_ms);
    o->set_resolved_ms(r.resolved_ms);
  }
  if (in.blocked_by) out->set_blocked_by(*in.blocked_by);
}

Status FromProto(const v1::TaskStatus& in, engine::TaskStatus* out) {
  out->task_id = in.task_id();
  out->task_group_id = in.task_group_id();
  if (!engine::Parse(in.state(), &out->state))
    return Status::Internal("status.state: '" + in.state() + "'");
  out->retries_left = in.retries_left();
  out->deadline_ms = in.deadline_ms();
  out->expires_ms = in.expires_ms();
  out->runs.clear();
  for (const auto& r : in.runs()) {
    engine::Run run;
    run.run_id = r.run_id();
    bool ok = engine::Parse(r.state(), &run.state) &&
              engine::Parse(r.reason_created(), &run.reason_created);
    ok = ok &&
         (r.reason_resolved().empty() || engine::Parse(r.reason_resolved(), &run.reason_resolved));
    if (!ok) return Status::Internal("status.runs: bad enum in run " + std::to_string(r.run_id()));
    if (!r.worker_id().empty()) {
      run.worker = std::make_shared<const engine::WorkerIdentity>(
          engine::WorkerIdentity{r.worker_group(), r.worker_id()});
    }
    run.taken_until_ms = r.taken_until_ms();
    run.scheduled_ms = r.scheduled_ms();
    run.started_ms = r.started_ms();
    run.resolved_ms = r.resolved_ms();
    out->runs.push_back(std::move(run));
  }
  out->blocked_by.reset();
  if (!in.blocked_by().empty()) out->blocked_by = in.blocked_by();
  return Status::Ok();
}

Status FromProto(const v1::HookDefinition& in, engine::HookDefinition* out) {
  out->hook_id = in.hook_id();
  out->schedule = in.schedule();
  out->key = in.key();
  return FromProto(in.task(), &out->task_template, "task.");
}

void ToProto(const engine::HookDefinition& in, v1::HookDefinition* out) {
  out->set_hook_id(in.hook_id);
  out->set_schedule(in.schedule);
  out->set_key(in.key);
  ToProto(in.task_template, out->mutable_task());
}

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status(static_cast<engine::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace ithappens::rpc
