// The simulated network between the callers (clients, workers) and the engine, and the
// simulator's Client (harness/parts.h) that carries operations over it to the engine
// core in the same process.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/queue.h"
#include "harness/parts.h"
#include "harness/sim/timers.h"
#include "harness/sim/world.h"
#include "harness/targets/in_process_engine.h"

namespace ithappens::harness {

// The links a network fault applies to: named procs, or all.
struct TargetSet {
  std::set<std::string, std::less<>> procs;
  bool all = false;
  bool Has(std::string_view proc) const { return all || procs.count(proc) > 0; }
  void Apply(const std::string& target, bool start);
};

// Each caller's link to the engine: one hop each way of the base latency; the nemesis
// switches partitions (workers only), lost answers and flaky links.
class SimNetwork {
 public:
  SimNetwork(int64_t latency_ms, uint64_t seed) : latency_ms_(latency_ms), rng_(seed) {}
  bool Reachable(std::string_view proc) const;
  bool ResponseLost(std::string_view proc) const { return response_loss_.Has(proc); }
  // One hop: the base latency, plus up to 200 ms on a flaky link.
  int64_t HopMs(std::string_view proc);
  // A message on a flaky link is dropped with the link's chance.
  bool Dropped(std::string_view proc);

  void Partition(const std::string& target, bool start) { partitioned_.Apply(target, start); }
  void LoseResponses(const std::string& target, bool start) { response_loss_.Apply(target, start); }
  void Flaky(const std::string& target, bool start, double probability);

 private:
  bool IsFlaky(std::string_view proc) const { return flaky_.Has(proc); }
  int64_t latency_ms_;
  Rng rng_;
  TargetSet partitioned_, response_loss_, flaky_;
  std::map<std::string, int64_t> flaky_ppm_;  // target -> drop chance, while it lasts
};

// UNAVAILABLE and lost messages are `info` (the outcome is unknown; a lost message is
// noticed when the request times out); other errors are `fail`. after_engine_call runs
// after each request the engine applied (a failed commit restarts it).
class SimClient final : public Client {
 public:
  using Then = Driver::Done;
  // One call on its way: the caller's operation and continuation, and what the network
  // keeps while it travels. One allocation per call, owned by the timer it waits in: a
  // batch's creates are all in flight at once, so this is what a batch holds per task
  // until its answers arrive (its answer travels in the response's timer, not here).
  struct Call {
    Operation op;
    Then then;  // the caller's continuation
    int64_t timeout_at = 0;
    bool dropped = false;  // the response will be lost on a flaky link
  };
  using CallPtr = std::unique_ptr<Call>;
  // A create of the simulator's plan on its way: no Call and no allocation, 16 bytes held
  // inside the timers it waits in. The plan (PlanCalls) makes its operation again whenever
  // the network needs it and ends it; which create it is (the submission, the place in its
  // chain, the attempt) means something only to the plan. A batch has every create in
  // flight at once: a Call each was 200 bytes per task at the batch's peak.
  struct PlanCall {
    uint32_t sub = 0;
    uint32_t k : 24 = 0;       // the place in its chain (a run plans at most 2,000,000 tasks)
    uint32_t attempt : 7 = 0;  // below kMaxAttempts (60)
    uint32_t dropped : 1 = 0;  // the response will be lost on a flaky link
    int64_t timeout_at = 0;
  };
  class PlanCalls {
   public:
    virtual ~PlanCalls() = default;
    // The call's operation, valid until the next Op().
    virtual const Operation& Op(const PlanCall& call) = 0;
    virtual void End(const PlanCall& call, const Completion& c) = 0;
  };
  // The engine's answer on its way back, inside the response's timer (with the client and
  // the call): a Completion in 48 bytes, whose one text is an ok answer's value or an
  // error's message. An ok create answered with the created task's own id keeps no text (a
  // batch has every create's answer in flight at once; an ok create's value is never empty
  // otherwise): Take makes its value again from the call's operation. A claim's handed-out
  // runs are behind a pointer, only when there are any.
  struct Answer {
    EventType type = EventType::kInfo;
    engine::StatusCode code = engine::StatusCode::kOk;
    std::string text;
    std::unique_ptr<std::vector<std::pair<std::string, uint32_t>>> claimed;
    Completion Take(const Operation& op) &&;
  };
  // How an answered (or given-up) call ends: by default then(answer); the simulator
  // records the completion first.
  using Finish = std::function<void(Call&, const Completion&)>;

  SimClient(TimerLoop& loop, SimNetwork& net, InProcessEngine& engine, int64_t request_timeout_ms,
            std::function<void()> after_engine_call, Finish finish = {}, PlanCalls* plan = nullptr)
      : loop_(loop),
        net_(net),
        engine_(engine),
        request_timeout_ms_(request_timeout_ms),
        after_engine_call_(std::move(after_engine_call)),
        finish_(std::move(finish)),
        plan_(plan) {}
  void Send(CallPtr call);
  // Only with the plan given at construction.
  void Send(PlanCall call);
  // The generic entry (tests): the operation is copied into a Call.
  void Invoke(std::shared_ptr<const Operation> op, Done done) override;

 private:
  // A call's way, the same for both kinds of call (the same draws of the network's
  // randomness, the same timers in the same order).
  template <typename C>
  void Transmit(C call);
  // The caller hears nothing and gives up when its request times out: info.
  template <typename C>
  void Lost(C call, const char* why);
  const Operation& OpOf(const CallPtr& call) { return call->op; }
  const Operation& OpOf(const PlanCall& call) { return plan_->Op(call); }
  static int64_t& TimeoutOf(CallPtr& call) { return call->timeout_at; }
  static int64_t& TimeoutOf(PlanCall& call) { return call.timeout_at; }
  static void SetDropped(CallPtr& call, bool dropped) { call->dropped = dropped; }
  static void SetDropped(PlanCall& call, bool dropped) { call.dropped = dropped; }
  static bool DroppedOf(const CallPtr& call) { return call->dropped; }
  static bool DroppedOf(const PlanCall& call) { return call.dropped; }
  void End(CallPtr& call, const Completion& c) {
    if (finish_) {
      finish_(*call, c);
    } else {
      call->then(c);
    }
  }
  void End(PlanCall& call, const Completion& c) { plan_->End(call, c); }
  // What the engine answers, before the network has its say.
  Answer Apply(engine::Queue& q, const Operation& op);

  TimerLoop& loop_;
  SimNetwork& net_;
  InProcessEngine& engine_;
  int64_t request_timeout_ms_;
  std::function<void()> after_engine_call_;
  Finish finish_;
  PlanCalls* plan_;
  std::vector<engine::Claim> claims_;  // reused: no allocation per poll
};

}  // namespace ithappens::harness
