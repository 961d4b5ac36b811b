#include "harness/sim/network.h"

#include <algorithm>

#include "harness/history/history.h"

namespace ithappens::harness {

using engine::Status;
using engine::StatusCode;

std::string HookJson(const engine::HookDefinition& h) {
  std::string v = "{\"hook\":";
  AppendJsonString(&v, h.hook_id);
  v.push_back('}');
  return v;
}

void TargetSet::Apply(const std::string& target, bool start) {
  if (target == "all") {
    all = start;
  } else if (start) {
    procs.insert(target);
  } else {
    procs.erase(target);
  }
}

bool SimNetwork::Reachable(std::string_view proc) const {
  if (proc.rfind("worker-", 0) != 0) return true;
  return !partitioned_.Has(proc);
}

int64_t SimNetwork::HopMs(std::string_view proc) {
  return latency_ms_ + (IsFlaky(proc) ? rng_.Below(201) : 0);
}

bool SimNetwork::Dropped(std::string_view proc) {
  if (!IsFlaky(proc)) return false;
  int64_t ppm = 0;
  for (const auto& [target, p] : flaky_ppm_)
    if (target == "all" || target == proc) ppm = std::max(ppm, p);
  return rng_.Below(kMillion) < ppm;
}

void SimNetwork::Flaky(const std::string& target, bool start, double probability) {
  flaky_.Apply(target, start);
  if (start) {
    flaky_ppm_[target] = Ppm(probability);
  } else {
    flaky_ppm_.erase(target);
  }
}

void SimClient::Invoke(std::shared_ptr<const Operation> op, Done done) {
  auto call = std::make_shared<Call>();
  call->op = *op;
  call->then = [done = std::move(done)](const Completion& c) mutable { done(c); };
  Send(std::move(call));
}

void SimClient::Send(std::shared_ptr<Call> call) {
  // The timers capture only this client and the call (24 bytes: stored inside the
  // callback, no allocation of their own).
  call->timeout_at = loop_.Now() + request_timeout_ms_;
  const Operation& op = call->op;
  if (!net_.Reachable(op.proc))
    return Lost(std::move(call), "request lost: partitioned from the engine");
  if (net_.Dropped(op.proc)) return Lost(std::move(call), "request dropped by a flaky network");
  loop_.After(net_.HopMs(op.proc), [this, call = std::move(call)] {
    const Operation& op = call->op;
    if (!engine_.Up()) return Lost(call, "request lost: the engine is down");
    if (!net_.Reachable(op.proc)) return Lost(call, "request lost: partitioned from the engine");
    call->answer = Apply(engine_.queue(), op);
    after_engine_call_();
    call->dropped = net_.Dropped(op.proc);
    loop_.After(net_.HopMs(op.proc), [this, call] {
      const std::string_view proc = call->op.proc;
      if (call->dropped) return Lost(call, "response dropped by a flaky network");
      if (!net_.Reachable(proc)) return Lost(call, "response lost: partitioned from the engine");
      if (net_.ResponseLost(proc)) return Lost(call, "response lost (the request was applied)");
      End(*call, call->answer);
    });
  });
}

void SimClient::Lost(std::shared_ptr<Call> call, const char* why) {
  const int64_t at = call->timeout_at;
  loop_.At(at, [this, call = std::move(call), why] {
    Completion c;
    c.type = EventType::kInfo;
    c.status = Status(StatusCode::kDeadlineExceeded, why);
    End(*call, c);
  });
}

Completion SimClient::Apply(engine::Queue& q, const Operation& op) {
  Completion c;
  engine::RunRef ref{op.task, op.run, "sim", op.proc};
  if (op.f == "create") {
    engine::TaskStatus ts;
    c.status = q.CreateTask(op.def, &ts);
    if (c.status.ok()) {
      c.value_json.assign("{\"task_id\":");
      AppendJsonString(&c.value_json, ts.task_id);
      c.value_json.push_back('}');
    }
  } else if (op.f == "claim") {
    std::vector<engine::Claim>& claims = claims_;
    claims.clear();
    c.status = q.ClaimWork("sim", op.proc, op.n, &claims);
    c.value_json.assign("{\"runs\":[");
    for (size_t k = 0; k < claims.size(); ++k) {
      c.claimed.emplace_back(claims[k].task->task_id, claims[k].run_id);
      c.value_json.append(k ? ",{\"task\":" : "{\"task\":");
      AppendJsonString(&c.value_json, claims[k].task->task_id);
      c.value_json.append(",\"run\":")
          .append(std::to_string(claims[k].run_id))
          .append(",\"taken_until_ms\":")
          .append(std::to_string(claims[k].taken_until_ms - kEpochMs))
          .push_back('}');
    }
    c.value_json.append("]}");
    claims.clear();  // drop the definitions' references now
  } else if (op.f == "reclaim") {
    engine::TimeMs taken_until_ms = 0;
    c.status = q.ReclaimTask(ref, &taken_until_ms);
    if (c.status.ok()) c.value_json = LeaseJson(op.run, taken_until_ms);
  } else if (op.f == "cancel") {
    c.status = q.CancelTask(op.task);
  } else if (op.f == "rerun") {
    c.status = q.RerunTask(op.task);
  } else if (op.f == "report-completed") {
    c.status = q.ReportCompleted(ref);
    c.value_json = RunJson(op.run);
  } else if (op.f == "report-failed") {
    c.status = q.ReportFailed(ref);
    c.value_json = RunJson(op.run);
  } else if (op.f == "report-exception") {
    c.status = q.ReportException(ref, op.reason);
    c.value_json = ReasonRunJson(op.reason, op.run);
  } else if (op.f == "create-hook") {
    c.status = q.CreateHook(*op.hook);
    c.value_json = HookJson(*op.hook);
  } else if (op.f == "remove-hook") {
    c.status = q.RemoveHook(op.hook->hook_id);
    c.value_json = HookJson(*op.hook);
  } else {
    c.status = Status::InvalidArgument("f: unknown operation '" + std::string(op.f) + "'");
  }
  if (c.status.ok()) {
    c.type = EventType::kOk;
  } else {
    c.type = c.status.code() == StatusCode::kUnavailable ? EventType::kInfo : EventType::kFail;
  }
  return c;
}

}  // namespace ithappens::harness
