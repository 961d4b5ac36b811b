// One history event (DESIGN.md, "History"): what the harness observed, in observation
// order. The JSON form is one object per line with keys in this fixed order:
//   {"i":17,"t_ns":1200000,"proc":"client-2","type":"invoke","f":"create","task":"Xk…",
//    "value":{…},"error":"…"}
// `task`, `value` and `error` are left out when empty.
//
//   type    meaning
//   invoke  a process called the platform (f names the call)
//   ok      the call succeeded (value: what it returned; a claim: runs [{task, run}])
//   fail    the call certainly had no effect (error: why)
//   info    the outcome is unknown (a timeout, a lost response): never guessed
//   fault   the nemesis started or stopped a fault (f: e.g. "partition-start")
//   effect  the sink saw a delivery attempt (value: channel, to, key, step, delivered)
//   plan    ground truth (f "task": one task, value {expect, root, deps, effects, program,
//           retries}; f "hook": one hook and its candidate fires, value {hook, key,
//           schedule, at_ms, until_ms, fires [{at_ms, task}], next_ms})
//   final   the platform's final answer about a task after the heal phase (value: state,
//           blocked_by, deadline_ms, runs [{state, reason_created, reason_resolved, worker,
//           started_ms, resolved_ms}]; times in ms since the run began) or error "not found"
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "harness/fault_kind.h"

namespace ithappens::harness {

enum class EventType { kInvoke, kOk, kFail, kInfo, kFault, kEffect, kPlan, kFinal };

std::string_view ToString(EventType t);
bool Parse(std::string_view s, EventType* out);

// An event's f as a code, decoded once by the reader so checkers compare integers: the
// calls a client or worker makes, the plan's entries, the sink's delivery. kOther: any
// other f (a fault's edge, a name this harness does not know); f keeps the text.
enum class Call : uint8_t {
  kOther,
  kCreate,
  kClaim,
  kReclaim,
  kReportCompleted,
  kReportFailed,
  kReportException,
  kCancel,
  kRerun,
  kStatus,
  kCreateHook,
  kRemoveHook,
  kTask,       // plan: one task
  kTarget,     // plan: the run's targets
  kHook,       // plan: one hook
  kHerdGuard,  // plan: the herd guard
  kDeliver,    // effect
};
std::string_view ToString(Call c);  // "" for kOther
Call ParseCall(std::string_view f);
// f names a report (report-completed, -failed, -exception, or another "report-..." name).
bool IsReport(Call c, std::string_view f);

// A fault event's f names one edge of a window: "<kind>-start" or "<kind>-stop".
std::string FaultEdgeName(std::string_view kind, bool start);
// The kind and edge of a fault event's f; false if f names neither edge.
bool ParseFaultEdge(std::string_view f, std::string_view* kind, bool* start);
// A fault kind that disturbs the engine itself, whoever calls it: it is down (engine-crash,
// power-cut),
// its disk fails (fsync-error, write-error: it restarts), or its clock moved (clock-jump).
bool IsEngineWideFault(std::string_view kind);
// True when f (a fault event's f: "clock-jump-start", "worker-oom") is of that kind.
bool IsFaultOf(std::string_view f, FaultKindId kind);
// The states a task ends in: completed, failed, exception.
bool IsTerminalState(std::string_view state);

// An event to write (or built by a test).
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

inline constexpr uint32_t kNoTask = UINT32_MAX;
// The reader refuses longer task ids (ours are 22 characters; UUIDs are 36).
inline constexpr size_t kMaxTaskIdLength = 1024;

// One element of a value's `runs`: a final event's runs, or the runs a claim handed out
// (task, run). Absent fields are empty / -1.
struct RunFacts {
  std::string_view task, state, reason_created, reason_resolved, worker;
  int64_t run = -1, started_ms = -1, resolved_ms = -1;
  int64_t taken_until_ms = -1;  // a claim's lease end, on the platform's clock
  uint32_t task_ix = kNoTask;   // `task` interned, as EventView::task_ix
};
struct EffectFacts {  // one element of a plan's `effects`
  int64_t step = -1;
  std::string_view channel, to;
  uint32_t recipient_ix = kNoTask;  // (channel, to) interned, as EventView::recipient_ix
};

// An event as the checkers read it (harness/history/history.h reads them): the line's
// fields and the value's fields decoded once, as views into the reader's buffers, valid
// only during the call that receives it. Tasks are interned: within one pass, equal task
// ids have equal `task_ix`, dense from 0, so checkers keep per-task state in vectors.
// Absent value fields are empty, -1 or false; `value()` parses the whole value for
// anything else (slow: for rare events only).
struct EventView {
  int64_t i = 0;
  int64_t t_ns = 0;
  EventType type = EventType::kInvoke;
  std::string_view proc, f, task, error;
  Call call = Call::kOther;     // f as a code
  std::string_view value_json;  // "" when absent
  uint32_t task_ix = kNoTask;
  // `proc` interned the same way (dense from 0 within one pass, equal names equal indices).
  uint32_t proc_ix = kNoTask;
  // The value's (channel, to) interned together: equal recipients, equal indices (kNoTask
  // when the value names neither).
  uint32_t recipient_ix = kNoTask;

  // The value's fields (DESIGN.md "History"; which events carry which: checkers.cc).
  std::string_view expect, root, task_id, state, blocked_by, key, channel, to, target, hook;
  std::string_view digest, reason, requires_, runs_as, priority, probe,
      bound;  // create: the definition's digest; report-
              // exception: the reason; plan: requires
  int64_t run = -1, step = -1, deadline_ms = -1, duration_ms = -1, n = -1;
  int64_t retries = -1, taken_until_ms = -1, claim_timeout_ms = -1;
  int64_t timing_slack_ms = -1;  // plan "target": how late the platform's clockwork may be
  bool has_deadline = false, delivered = false;
  std::vector<uint32_t> deps;  // interned like task_ix
  std::vector<EffectFacts> effects;
  std::vector<RunFacts> runs;

  const nlohmann::json& value() const;

  // For the reader: clears every field (keeping the vectors' capacity).
  void Reset();

 private:
  mutable nlohmann::json parsed_;
  mutable bool is_parsed_ = false;
};

}  // namespace ithappens::harness
