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
  auto call = std::make_unique<Call>();
  call->op = *op;
  call->then = [done = std::move(done)](const Completion& c) mutable { done(c); };
  Send(std::move(call));
}

// The value of an ok create: the task's id as the engine answered it.
static std::string CreatedJson(std::string_view task_id) {
  std::string v;
  v.reserve(task_id.size() + 15);
  v.assign("{\"task_id\":");
  AppendJsonString(&v, task_id);
  v.push_back('}');
  return v;
}

Completion SimClient::Answer::Take(const Operation& op) && {
  Completion c;
  c.type = type;
  if (code == StatusCode::kOk) {
    const bool own_task_id = text.empty() && op.f == "create";
    c.value_json = own_task_id ? CreatedJson(op.TaskId()) : std::move(text);
  } else {
    c.status = Status(code, std::move(text));
  }
  if (claimed) c.claimed = std::move(*claimed);
  return c;
}

// The response's timer holds the client, the call and the answer inline.
static_assert(sizeof(SimClient::Answer) + sizeof(void*) + sizeof(SimClient::CallPtr) <=
              Callback::kInlineBytes);
static_assert(sizeof(SimClient::Answer) + sizeof(void*) + sizeof(SimClient::PlanCall) <=
              Callback::kInlineBytes);

template <typename C>
void SimClient::Transmit(C call) {
  // The timers capture only this client, the call and (the response's) its answer: stored
  // inside the callback, no allocation of their own.
  TimeoutOf(call) = loop_.Now() + request_timeout_ms_;
  const std::string_view proc = OpOf(call).proc;
  if (!net_.Reachable(proc))
    return Lost(std::move(call), "request lost: partitioned from the engine");
  if (net_.Dropped(proc)) return Lost(std::move(call), "request dropped by a flaky network");
  const int64_t hop = net_.HopMs(proc);
  loop_.After(hop, [this, call = std::move(call)]() mutable {
    const Operation& op = OpOf(call);
    if (!engine_.Up()) return Lost(std::move(call), "request lost: the engine is down");
    if (!net_.Reachable(op.proc))
      return Lost(std::move(call), "request lost: partitioned from the engine");
    Answer answer = Apply(engine_.queue(), op);
    after_engine_call_();
    const std::string_view proc = op.proc;  // a name the caller's name table keeps
    SetDropped(call, net_.Dropped(proc));
    const int64_t back = net_.HopMs(proc);
    loop_.After(back, [this, call = std::move(call), answer = std::move(answer)]() mutable {
      const std::string_view proc = OpOf(call).proc;
      if (DroppedOf(call)) return Lost(std::move(call), "response dropped by a flaky network");
      if (!net_.Reachable(proc))
        return Lost(std::move(call), "response lost: partitioned from the engine");
      if (net_.ResponseLost(proc))
        return Lost(std::move(call), "response lost (the request was applied)");
      End(call, std::move(answer).Take(OpOf(call)));
    });
  });
}

void SimClient::Send(CallPtr call) { Transmit(std::move(call)); }
void SimClient::Send(PlanCall call) { Transmit(call); }

template <typename C>
void SimClient::Lost(C call, const char* why) {
  const int64_t at = TimeoutOf(call);
  loop_.At(at, [this, call = std::move(call), why]() mutable {
    Completion c;
    c.type = EventType::kInfo;
    c.status = Status(StatusCode::kDeadlineExceeded, why);
    End(call, c);
  });
}

SimClient::Answer SimClient::Apply(engine::Queue& q, const Operation& op) {
  Answer a;
  std::string& value = a.text;
  engine::Status status;
  engine::RunRef ref{op.task, op.run, "sim", op.proc};
  if (op.f == "create") {
    engine::TaskStatus ts;
    status = q.CreateTask(op.def, &ts);
    if (status.ok()) {
      // The engine's id, which a correct engine gives as the definition's: then no text.
      if (ts.task_id != op.TaskId()) value = CreatedJson(ts.task_id);
    }
  } else if (op.f == "claim") {
    std::vector<engine::Claim>& claims = claims_;
    claims.clear();
    status = q.ClaimWork("sim", op.proc, op.n, &claims);
    value.assign("{\"runs\":[");
    if (!claims.empty()) {
      a.claimed = std::make_unique<std::vector<std::pair<std::string, uint32_t>>>();
      a.claimed->reserve(claims.size());
    }
    for (size_t k = 0; k < claims.size(); ++k) {
      a.claimed->emplace_back(claims[k].task->task_id, claims[k].run_id);
      value.append(k ? ",{\"task\":" : "{\"task\":");
      AppendJsonString(&value, claims[k].task->task_id);
      value.append(",\"run\":")
          .append(std::to_string(claims[k].run_id))
          .append(",\"taken_until_ms\":")
          .append(std::to_string(claims[k].taken_until_ms - kEpochMs))
          .push_back('}');
    }
    value.append("]}");
    claims.clear();  // drop the definitions' references now
  } else if (op.f == "reclaim") {
    engine::TimeMs taken_until_ms = 0;
    status = q.ReclaimTask(ref, &taken_until_ms);
    if (status.ok()) value = LeaseJson(op.run, taken_until_ms);
  } else if (op.f == "cancel") {
    status = q.CancelTask(op.task);
  } else if (op.f == "rerun") {
    status = q.RerunTask(op.task);
  } else if (op.f == "report-completed") {
    status = q.ReportCompleted(ref);
    value = RunJson(op.run);
  } else if (op.f == "report-failed") {
    status = q.ReportFailed(ref);
    value = RunJson(op.run);
  } else if (op.f == "report-exception") {
    status = q.ReportException(ref, op.reason);
    value = ReasonRunJson(op.reason, op.run);
  } else if (op.f == "create-hook") {
    status = q.CreateHook(*op.hook);
    value = HookJson(*op.hook);
  } else if (op.f == "remove-hook") {
    status = q.RemoveHook(op.hook->hook_id);
    value = HookJson(*op.hook);
  } else {
    status = Status::InvalidArgument("f: unknown operation '" + std::string(op.f) + "'");
  }
  a.code = status.code();
  if (status.ok()) {
    a.type = EventType::kOk;
  } else {
    a.type = status.code() == StatusCode::kUnavailable ? EventType::kInfo : EventType::kFail;
    a.text = status.message();  // an error's one text is its message
  }
  return a;
}

}  // namespace ithappens::harness
