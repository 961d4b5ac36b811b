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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/task.h"

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

// How a run of a program ends (DESIGN.md, "Attribution ground truth"): completed; failed
// (exit != 0, a crash step, past its own memory budget: the user's code); or exception
// intermittent-task (fail_if_attempt_below on an early attempt: the platform retries).
struct Ending {
  engine::RunState state = engine::RunState::kCompleted;
  engine::ReasonResolved reason = engine::ReasonResolved::kCompleted;
  std::string why;  // "exit 3", "user program died of signal 9", ... ("" when completed)
  size_t step = 0;  // the step that ended it (steps.size(): it ran to the end)
};

// The host of a run performs each step the program reaches: the real worker sleeps,
// spins, allocates and calls the sink; the simulator moves virtual time and schedules the
// deliveries. Each returns false to stop the run there: the host ends it itself (a worker
// shutting down, a sink that is down).
class StepHost {
 public:
  virtual ~StepHost() = default;
  virtual bool Wait(const Step& step) = 0;  // sleep_ms or cpu_ms
  virtual bool Allocate(const Step& step) = 0;
  virtual bool Effect(size_t index, const Step& step) = 0;
};

// The one meaning of a program (shared by the worker and the simulator): runs `program` as
// run `run_id` of its task on host, step by step, and says how it ended; nullopt when the
// host stopped it. The memory budget is judged before a step's allocation is made.
std::optional<Ending> RunProgram(const Program& program, uint32_t run_id, StepHost& host);

}  // namespace ithappens::worker
