// The parts a run is assembled from (STYLE.md, after Jepsen): the Target (the platform,
// which the harness brings up and kills), the Client (one call to the platform, answered
// ok, fail or info), the Nemesis (starts and stops faults) and the Generator (what the
// workload submits, and when). Each has a do-nothing version so a test can assemble a run
// one piece at a time. The Checker is in harness/checker.h.
//
// Sim mode implements them in harness/sim (the engine core on a MemoryStore); real mode
// will implement them with processes, signals and libfiu's control fifo.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "engine/task.h"
#include "harness/callback.h"
#include "harness/event.h"
#include "harness/faults/faults.h"

namespace ithappens::harness {

// The platform under test.
class Target {
 public:
  virtual ~Target() = default;
  // Brings the platform up, recovering whatever it made durable.
  virtual engine::Status Start() = 0;
  // Takes it down hard, as a power cut would: what was not durable may be gone.
  virtual void Kill() = 0;
  virtual bool Up() const = 0;
};

class NoopTarget final : public Target {
 public:
  engine::Status Start() override {
    up_ = true;
    return engine::Status::Ok();
  }
  void Kill() override { up_ = false; }
  bool Up() const override { return up_; }

 private:
  bool up_ = false;
};

// One call a process makes to the platform (Jepsen's operation). Plain data, so that a
// client can carry it over any transport; `f` is the name the history records.
// The views and pointers (proc, f, digest, probe) do not own what they show: the caller
// keeps it alive until the call is done (literals, the simulation's names for its
// callers, its digests of the plan's definitions and its bound probes, what the caller's
// continuation holds). An operation of a batch's create is in flight for every task at
// once, so it is kept small.
struct BoundProbe;  // harness/load/workload.h

struct Operation {
  std::string_view proc;  // the caller: client-N or worker-N
  std::string_view f;     // create | claim | reclaim | report-completed | report-failed |
                          // report-exception | create-hook | remove-hook
  std::string task;       // the task it is about ("" for claim; a create's is its def's)
  std::shared_ptr<const engine::TaskDefinition> def;              // create: the definition
  std::shared_ptr<const engine::HookDefinition> hook;             // create-hook, remove-hook
  // create: DefinitionDigest(*def) when the caller has it already (its 16 characters).
  const std::array<char, 16>* digest = nullptr;
  // create: a probe of a bound (what a correct platform must answer, and the bound it
  // probes: "retries 50"); null for an ordinary create.
  const BoundProbe* probe = nullptr;
  uint32_t run = 0;                                               // reclaim, report-*: the run
  int n = 0;                                                      // claim: at most this many runs
  engine::ReasonResolved reason = engine::ReasonResolved::kNone;  // report-exception
  // The task it is about: a create's definition's id (not copied into task), else task.
  std::string_view TaskId() const { return def ? std::string_view(def->task_id) : task; }
};
// A batch has every create in flight at once, each holding one.
static_assert(sizeof(Operation) <= 128);

// The answer to one Operation, as the caller saw it.
struct Completion {
  EventType type = EventType::kInfo;  // ok | fail (certainly no effect) | info (unknown)
  engine::Status status;              // the call's status; info: why the outcome is unknown
  std::string value_json;             // ok: what the platform answered, as JSON text
  std::vector<std::pair<std::string, uint32_t>> claimed;  // ok claim: (task, run) handed out
};

// Carries operations to the platform. `done` is called exactly once per Invoke, possibly
// later (in sim mode: at the virtual time the answer arrives or the caller gives up). The
// driver records the invoke event before calling Invoke and the completion after.
class Client {
 public:
  // Move-only, stored inline up to 48 bytes: a call's continuation allocates nothing.
  using Done = InlineFunction<void(Completion), 48>;
  virtual ~Client() = default;
  // The client holds op (shared with the caller, never copied) until it calls done.
  virtual void Invoke(std::shared_ptr<const Operation> op, Done done) = 0;
};

// Answers every call at once with `fail`: nothing reached a platform.
class NoopClient final : public Client {
 public:
  void Invoke(std::shared_ptr<const Operation> op, Done done) override {
    Completion c;
    c.type = EventType::kFail;
    c.status =
        engine::Status::FailedPrecondition("noop client: " + std::string(op->f) + " was not sent");
    done(std::move(c));
  }
};

// Starts and stops the faults of a scenario. The driver records the fault events around
// the calls, so the history shows every window.
class Nemesis {
 public:
  virtual ~Nemesis() = default;
  virtual void Start(const FaultSpec& fault) = 0;
  virtual void Stop(const FaultSpec& fault) = 0;
};

class NoopNemesis final : public Nemesis {
 public:
  void Start(const FaultSpec&) override {}
  void Stop(const FaultSpec&) override {}
};

// Consecutive indices into the plan, [first, first + count): a chain's tasks (the planner
// puts them one after the other). Read like a vector of indices; no allocation of its own
// (a batch has one submission per task). A plan has fewer than 2^32 tasks (the simulator's
// index of them is 32 bits too).
struct TaskRange {
  uint32_t first = 0, count = 0;
  TaskRange() = default;
  TaskRange(size_t first_task, size_t tasks)
      : first(static_cast<uint32_t>(first_task)), count(static_cast<uint32_t>(tasks)) {}
  struct Iterator {
    size_t k;
    size_t operator*() const { return k; }
    Iterator& operator++() {
      ++k;
      return *this;
    }
    bool operator==(const Iterator&) const = default;
  };
  size_t size() const { return count; }
  bool empty() const { return count == 0; }
  size_t operator[](size_t k) const { return size_t{first} + k; }
  size_t front() const { return first; }
  size_t back() const { return size_t{first} + count - 1; }
  Iterator begin() const { return {first}; }
  Iterator end() const { return {size_t{first} + count}; }
  bool operator==(const TaskRange&) const = default;
};

// One thing the workload does: at at_ms after the run began, submit the planned tasks
// `tasks` (indices into the plan), one after the other (a chain waits for each create).
// A cron filler's submission repeats: `repeats` times, every every_ms from at_ms (one
// record, not one per repetition: 10^6 of them at 50x).
struct Submission {
  int64_t at_ms = 0;
  TaskRange tasks;
  int64_t every_ms = 0;
  int64_t repeats = 1;
  int64_t LastAtMs() const { return at_ms + (repeats - 1) * every_ms; }
};
static_assert(sizeof(Submission) == 32);

// The workload as a sequence of submissions, in the order they were planned (the driver
// schedules each at its time). nullopt: nothing more.
class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::optional<Submission> Next() = 0;
};

class NoopGenerator final : public Generator {
 public:
  std::optional<Submission> Next() override { return std::nullopt; }
};

}  // namespace ithappens::harness
