// What the simulator's parts (timer loop, network, workers, sink, nemesis: one file each)
// share with its driver (harness/sim/sim.cc): the driver records every call and event in
// the history, as Jepsen's interpreter does; the parts never touch the history file or
// one another's state, so real mode can swap any of them for its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/hash.h"
#include "engine/payload.h"
#include "engine/status.h"
#include "harness/event.h"
#include "harness/parts.h"

namespace ithappens::harness {

inline constexpr int64_t kEpochMs = 1'700'000'000'000;  // virtual time starts here
inline constexpr int kMaxAttempts = 60;                 // of a call retried while unknown

using ParsedProgram = engine::Result<worker::Program>;
// A task's program as the simulator runs it: parsed, and the task's ordinal when that is
// its workload's template, shared by all its tasks ("{i}" in an effect's `to` stands for
// it: harness/load/workload.h EffectTo; -1: the program is the task's own).
struct TaskProgram {
  std::shared_ptr<const ParsedProgram> parsed;
  int64_t ordinal = -1;
};

// The driver's side, as the parts see it.
class Driver {
 public:
  // Move-only, stored inline up to 48 bytes: a continuation allocates nothing.
  using Done = InlineFunction<void(const Completion&), 48>;
  virtual ~Driver() = default;
  // Records the invoke, hands op to the client, records the completion, then done(it).
  virtual void Call(Operation op, Done done) = 0;
  // One history event at the current virtual time (value_json: JSON text, "" for none).
  virtual void Emit(std::string_view proc, EventType type, std::string_view f,
                    std::string_view task, std::string_view value_json = "",
                    std::string_view error = "") = 0;
  // A caller's wait before attempt+1 of a call whose outcome was unknown (seeded jitter).
  virtual int64_t Backoff(int attempt) = 0;
  // The program of a task (planned tasks parsed at planning; others fetched once).
  virtual TaskProgram ProgramOf(const std::string& task) = 0;
};

// A call whose outcome is unknown: the caller retries it.
inline bool Transient(const engine::Status& st) {
  return st.code() == engine::StatusCode::kUnavailable ||
         st.code() == engine::StatusCode::kDeadlineExceeded;
}

// The seeded generator each part draws from (one per part: a part's draws never shift
// another's).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() { return engine::Mix64(s_++); }
  int64_t Below(int64_t n) {
    return n <= 0 ? 0 : static_cast<int64_t>(Next() % static_cast<uint64_t>(n));
  }

 private:
  uint64_t s_;
};

// Chances in parts per million (a certain one draws nothing).
inline constexpr int64_t kMillion = 1'000'000;
inline int64_t Ppm(double probability) {
  return static_cast<int64_t>(probability * kMillion + 0.5);
}

// Values of history events, as JSON text.
inline std::string RunJson(uint32_t run) { return "{\"run\":" + std::to_string(run) + "}"; }
inline std::string ReasonRunJson(engine::ReasonResolved reason, uint32_t run) {
  return "{\"reason\":\"" + std::string(engine::ToString(reason)) +
         "\",\"run\":" + std::to_string(run) + "}";
}
// Lease ends on the engine's clock, in ms since the run began (as final events' times).
inline std::string LeaseJson(uint32_t run, int64_t taken_until_ms) {
  return "{\"run\":" + std::to_string(run) +
         ",\"taken_until_ms\":" + std::to_string(taken_until_ms - kEpochMs) + "}";
}
std::string HookJson(const engine::HookDefinition& h);

}  // namespace ithappens::harness
