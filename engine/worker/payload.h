// The payload program a worker runs (DESIGN.md, "Payload program"): a deterministic list
// of steps, as a JSON array or as {"steps": [...], "memory_limit_mb": N}. Each step is an
// object with one key:
//   {"sleep_ms": N}        0..3,600,000        wait (the worker keeps reclaiming)
//   {"cpu_ms": N}          0..600,000          spin
//   {"alloc_mb": N}        0..4096             allocate and touch user memory
//   {"effect": {"channel": "email|sms|call", "to": "..."}}   one notification
//   {"exit": N}            0..255              end: 0 completed, else failed (user code)
//   {"crash": N}           1..64               end: the program died of signal N (failed)
//   {"fail_if_attempt_below": N} 1..50         end with intermittent-task while runId+1 < N
// A program over its own memory_limit_mb fails (user code). At most 1000 steps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace ithappens::worker {

struct Step {
  enum class Kind { kSleep, kCpu, kAlloc, kEffect, kExit, kCrash, kFailIfAttemptBelow };
  Kind kind = Kind::kExit;
  int64_t value = 0;
  std::string channel;  // kEffect
  std::string to;       // kEffect
};

struct Program {
  std::vector<Step> steps;
  int64_t memory_limit_mb = 0;  // 0: no budget of its own
};

inline constexpr size_t kMaxSteps = 1000;

// INVALID_ARGUMENT naming the step and field, e.g. "payload.steps[3].sleep_ms: 9999999 is
// outside 0..3600000".
engine::Result<Program> ParsePayload(std::string_view json);

// What running a program ended in.
enum class Outcome { kCompleted, kFailed, kIntermittent };

}  // namespace ithappens::worker
