// One history event (DESIGN.md, "History"): what the harness observed, in observation
// order. The JSON form is one object per line with keys in this fixed order:
//   {"i":17,"t_ns":1200000,"proc":"client-2","type":"invoke","f":"create","task":"Xk…",
//    "value":{…},"error":"…"}
// `task`, `value` and `error` are left out when empty.
//
//   type    meaning
//   invoke  a process called the platform (f names the call)
//   ok      the call succeeded (value: what it returned)
//   fail    the call certainly had no effect (error: why)
//   info    the outcome is unknown (a timeout, a lost response): never guessed
//   fault   the nemesis started or stopped a fault (f: e.g. "partition-start")
//   effect  the sink saw a delivery attempt (value: channel, to, key, step, delivered)
//   plan    ground truth of one task: its program and what it must end as
//   final   the platform's final answer about a task after the heal phase (value: state,
//           blocked_by, deadline_ms, runs [{state, reason_created, reason_resolved, worker,
//           started_ms, resolved_ms}]; times in ms since the run began) or error "not found"
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ithappens::harness {

enum class EventType { kInvoke, kOk, kFail, kInfo, kFault, kEffect, kPlan, kFinal };

std::string_view ToString(EventType t);
bool Parse(std::string_view s, EventType* out);

struct Event {
  int64_t i = 0;
  int64_t t_ns = 0;
  std::string proc;
  EventType type = EventType::kInvoke;
  std::string f;
  std::string task;
  nlohmann::json value;  // null when absent
  std::string error;
};

}  // namespace ithappens::harness
