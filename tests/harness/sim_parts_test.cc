// The simulator's parts stand alone (harness/sim/*.h): each is assembled here without the
// driver, as real mode will assemble its own. The timer loop keeps the order timers were
// set in; the client over the simulated network applies a request whose answer is lost
// and answers `info` at the caller's timeout; a partition keeps the request from the
// engine; the disk's failure points fail the engine's commits while armed and are off
// again once it is gone (on every path); the nemesis switches the sink.
#include <gtest/gtest.h>

#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/fault_points.h"
#include "harness/sim/disk.h"
#include "harness/sim/nemesis.h"
#include "harness/sim/network.h"
#include "harness/sim/sink.h"
#include "harness/sim/timers.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::harness {
namespace {

TEST(SimParts, TimerLoopRunsEqualTimesInTheOrderTheyWereSetAndStops) {
  TimerLoop loop(1'000);
  std::string order;
  loop.At(1'005, [&] { order += "b"; });
  loop.At(1'005, [&] { order += "c"; });
  loop.At(1'001, [&] { order += "a"; });
  loop.At(500, [&] { order += "0"; });  // never before now
  loop.Every(10, [&] {
    order += ".";
    if (loop.Now() >= 1'030) loop.Stop();
  });
  loop.Run(INT64_MAX, 1 << 20, [] {});
  EXPECT_EQ(order, "0abc...");
  EXPECT_EQ(loop.Now(), 1'030);
  EXPECT_TRUE(loop.stopped());
}

struct Rig {
  TimerLoop loop{kEpochMs};
  SimNetwork net{1, 7};
  engine::QueueOptions options;
  InProcessEngine engine{&loop.clock(), options};
  int engine_calls = 0;
  SimClient client{loop, net, engine, 5'000, [this] { ++engine_calls; }};
  explicit Rig(engine::QueueOptions o = {}) : options(o) { EXPECT_TRUE(engine.Start().ok()); }
  Completion Call(Operation op) {
    Completion got;
    int answers = 0;
    client.Invoke(std::make_shared<const Operation>(std::move(op)), [&](Completion c) {
      got = std::move(c);
      ++answers;
    });
    loop.Run(INT64_MAX, 1 << 20, [] {});
    EXPECT_EQ(answers, 1);
    return got;
  }
  Operation Create(uint32_t n) {
    Operation op;
    op.proc = "client-0";
    op.f = "create";
    op.def = std::make_shared<const engine::TaskDefinition>(testing::MakeTask(n, loop.Now()));
    op.task = op.def->task_id;
    return op;
  }
};

TEST(SimParts, ClientOverTheNetworkAnswersOkAndLostAnswersAreInfoAfterTheTimeout) {
  Rig r;
  Completion ok = r.Call(r.Create(1));
  EXPECT_EQ(ok.type, EventType::kOk) << ok.status.ToString();
  EXPECT_EQ(r.loop.Now(), kEpochMs + 2) << "one hop each way";
  r.net.LoseResponses("client-0", true);
  const int64_t sent = r.loop.Now();
  Completion lost = r.Call(r.Create(2));
  EXPECT_EQ(lost.type, EventType::kInfo);
  EXPECT_EQ(r.loop.Now(), sent + 5'000) << "the caller gives up at its timeout";
  engine::TaskStatus s;
  EXPECT_TRUE(r.engine.queue().GetStatus(testing::TaskId(2), &s).ok())
      << "the request was applied; only its answer was lost";
  EXPECT_EQ(r.engine_calls, 2);
}

// What the engine answered reaches the caller whole over the network: an ok answer's
// value and the runs a claim handed out, a refusal's code and message.
TEST(SimParts, AnAnswerReachesItsCallerWhole) {
  Rig r;
  Completion ok = r.Call(r.Create(1));
  ASSERT_EQ(ok.type, EventType::kOk) << ok.status.ToString();
  EXPECT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.value_json, "{\"task_id\":\"" + testing::TaskId(1) + "\"}");
  // The same id with another definition: refused, as the engine itself refuses it.
  Operation conflict = r.Create(1);
  auto changed = std::make_shared<engine::TaskDefinition>(*conflict.def);
  changed->retries = conflict.def->retries + 1;
  conflict.def = changed;
  Completion refused = r.Call(conflict);
  engine::TaskStatus ignored;
  const engine::Status direct = r.engine.queue().CreateTask(changed, &ignored);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(refused.type, EventType::kFail);
  EXPECT_EQ(refused.status.code(), direct.code());
  EXPECT_EQ(refused.status.message(), direct.message());
  EXPECT_FALSE(refused.status.message().empty());
  Operation claim;
  claim.proc = "worker-0";
  claim.f = "claim";
  claim.n = 10;
  Completion claimed = r.Call(claim);
  ASSERT_EQ(claimed.type, EventType::kOk);
  ASSERT_EQ(claimed.claimed.size(), 1u);
  EXPECT_EQ(claimed.claimed[0].first, testing::TaskId(1));
  EXPECT_EQ(claimed.claimed[0].second, 0u);
  EXPECT_NE(claimed.value_json.find(testing::TaskId(1)), std::string::npos) << claimed.value_json;
}

// An ok create's answer is the id the engine gave the task, even when that is not the
// definition's (an engine bug the no-duplicate-tasks checker must see in the history).
TEST(SimParts, ACreatesAnswerNamesTheIdTheEngineGave) {
  engine::QueueOptions buggy;
  buggy.bugs.random_task_ids = true;
  Rig r(buggy);
  Completion ok = r.Call(r.Create(1));
  ASSERT_EQ(ok.type, EventType::kOk) << ok.status.ToString();
  const auto got = nlohmann::json::parse(ok.value_json);
  ASSERT_TRUE(got.contains("task_id")) << ok.value_json;
  const std::string id = got["task_id"].get<std::string>();
  EXPECT_NE(id, testing::TaskId(1)) << "the engine's id, not the definition's";
  engine::TaskStatus s;
  EXPECT_TRUE(r.engine.queue().GetStatus(id, &s).ok()) << "the engine knows the task by it";
}

// A create of the simulator's plan travels as a PlanCall (16 bytes, its operation made
// again by the plan each time the network needs it), any other call as a Call: the two
// take the same way. The same creates, sent each way over the same flaky network (dropped
// requests and answers, longer hops), through a partition, lost answers and an engine that
// is down for a while, end at the same times with the same answers.
struct PlanSide final : SimClient::PlanCalls {
  std::vector<Operation> ops;  // by PlanCall::sub
  std::vector<std::string>* ended = nullptr;
  TimerLoop* loop = nullptr;
  int made = 0;
  const Operation& Op(const SimClient::PlanCall& call) override {
    ++made;
    return ops.at(call.sub);
  }
  void End(const SimClient::PlanCall& call, const Completion& c) override;
};

std::string Ended(int64_t at, const Operation& op, const Completion& c) {
  return std::to_string(at) + " " + std::string(op.TaskId()) + " " + std::string(ToString(c.type)) +
         " " + std::string(engine::StatusCodeName(c.status.code())) + " " + c.status.message() +
         " " + c.value_json;
}

void PlanSide::End(const SimClient::PlanCall& call, const Completion& c) {
  ended->push_back(Ended(loop->Now(), ops.at(call.sub), c));
}

std::vector<std::string> SendCreates(bool as_plan_calls, int* made = nullptr) {
  TimerLoop loop{kEpochMs};
  SimNetwork net{1, 42};
  InProcessEngine engine{&loop.clock(), engine::QueueOptions{}};
  EXPECT_TRUE(engine.Start().ok());
  std::vector<std::string> ended;
  PlanSide plan;
  plan.ended = &ended;
  plan.loop = &loop;
  SimClient client{loop, net, engine, 5'000, [] {}, {}, &plan};
  net.Flaky("all", true, 0.3);
  loop.At(kEpochMs + 2'000, [&] { net.Partition("worker-1", true); });
  loop.At(kEpochMs + 4'000, [&] { net.Partition("worker-1", false); });
  loop.At(kEpochMs + 6'000, [&] { net.LoseResponses("client-0", true); });
  loop.At(kEpochMs + 7'000, [&] { net.LoseResponses("client-0", false); });
  loop.At(kEpochMs + 9'000, [&] { engine.Restarting(kEpochMs + 10'500); });
  constexpr uint32_t kCreates = 300;
  for (uint32_t n = 0; n < kCreates; ++n) {
    Operation op;
    op.proc = n % 3 == 0 ? "worker-1" : "client-0";
    op.f = "create";
    // Some ids twice, one with another definition: ok again, and a refusal.
    const uint32_t id = n % 7 == 6 ? n - 1 : n;
    auto def = std::make_shared<engine::TaskDefinition>(testing::MakeTask(id, kEpochMs));
    if (n % 14 == 13) def->retries += 1;
    op.def = def;
    plan.ops.push_back(op);
    loop.At(kEpochMs + n * 40, [&, n] {
      const Operation& sent = plan.ops[n];
      if (as_plan_calls) {
        client.Send(SimClient::PlanCall{n});
      } else {
        client.Invoke(std::make_shared<const Operation>(sent),
                      [&, n](Completion c) { ended.push_back(Ended(loop.Now(), plan.ops[n], c)); });
      }
    });
  }
  loop.Run(INT64_MAX, 1 << 20, [] {});
  EXPECT_EQ(ended.size(), kCreates);
  if (made != nullptr) *made = plan.made;
  return ended;
}

TEST(SimParts, APlansCreateTakesTheWayOfAnyOtherCall) {
  int made = 0;
  const std::vector<std::string> plan_calls = SendCreates(true, &made);
  const std::vector<std::string> calls = SendCreates(false);
  EXPECT_GT(made, 0) << "the plan made the operations";
  ASSERT_EQ(plan_calls.size(), calls.size());
  for (size_t k = 0; k < calls.size(); ++k) EXPECT_EQ(plan_calls[k], calls[k]) << "answer " << k;
  // The run met every way a call can end.
  std::string all;
  for (const auto& e : calls) all += e + "\n";
  for (const char* seen :
       {" ok OK ", "request dropped by a flaky network", "response dropped by a flaky network",
        "request lost: partitioned from the engine", "response lost (the request was applied)",
        "request lost: the engine is down", "ALREADY_EXISTS"})
    EXPECT_NE(all.find(seen), std::string::npos) << seen << " in\n" << all;
}

TEST(SimParts, APartitionedWorkersRequestNeverReachesTheEngine) {
  Rig r;
  ASSERT_EQ(r.Call(r.Create(1)).type, EventType::kOk);
  r.net.Partition("worker-0", true);
  Operation claim;
  claim.proc = "worker-0";
  claim.f = "claim";
  claim.n = 10;
  EXPECT_EQ(r.Call(claim).type, EventType::kInfo);
  EXPECT_EQ(r.engine_calls, 1) << "only the create reached the engine";
  r.net.Partition("worker-0", false);
  Completion c = r.Call(claim);
  EXPECT_EQ(c.type, EventType::kOk);
  EXPECT_EQ(c.claimed.size(), 1u);
}

TEST(SimParts, DiskFaultsFailCommitsWhileArmedAndAreOffOnceTheDiskIsGone) {
  Rig r;
  {
    SimDisk disk(3);
    disk.Arm();
    disk.SetFsyncFailPpm(kMillion);
    EXPECT_EQ(r.Call(r.Create(1)).type, EventType::kInfo) << "UNAVAILABLE: a failed fsync";
    EXPECT_TRUE(r.engine.queue().NeedsRecovery());
    // Leaves the scope armed, as an early return would.
  }
  Completion after = r.Call(r.Create(2));
  EXPECT_EQ(after.type, EventType::kOk) << after.status.ToString();
  EXPECT_EQ(fiu_fail(engine::kFaultStoreFsync), 0) << "the failure point is off again";
}

TEST(SimParts, NemesisSwitchesTheSinkAndTheEngine) {
  Rig r;
  SimSink sink;
  SimDisk disk(1);
  struct NoDriver final : Driver {
    void Call(Operation, Done) override {}
    void Emit(std::string_view, EventType, std::string_view, std::string_view, std::string_view,
              std::string_view) override {}
    int64_t Backoff(int) override { return 0; }
    TaskProgram ProgramOf(const std::string&) override { return {}; }
  } driver;
  Scenario scenario;
  engine::BugSwitches bugs;
  SimWorkers workers(r.loop, driver, sink, scenario, bugs);  // never started: no worker runs
  int64_t crashes = 0;
  SimNemesis nemesis({r.loop, workers, r.net, r.engine, sink, disk, crashes});
  FaultSpec outage;
  outage.kind = FaultKindId::kSinkOutage;
  nemesis.Start(outage);
  EXPECT_TRUE(sink.Down(r.loop.Now()));
  nemesis.Stop(outage);
  EXPECT_FALSE(sink.Down(r.loop.Now()));
  FaultSpec crash;
  crash.kind = FaultKindId::kEngineCrash;
  nemesis.Start(crash);
  EXPECT_FALSE(r.engine.Up());
  EXPECT_EQ(crashes, 1);
  nemesis.Stop(crash);
  EXPECT_TRUE(r.engine.Up());
  EXPECT_TRUE(sink.Deliver("k/1"));
  EXPECT_FALSE(sink.Deliver("k/1")) << "a key is delivered once";
}

// The sink's delivered keys live in blocks that never move: every key is held once, in
// blocks far smaller than the keys' total here (and keys that fill a block to its last
// byte, and the empty key), a key that is a prefix of a held one is another key, and a
// key over a block's room is refused with its size and the bound.
TEST(SimParts, TheSinksKeySetHoldsEveryKeyOnceAcrossBlocks) {
  KeySet set(8);  // 256-byte blocks
  std::vector<std::string> keys;
  for (int64_t i = 0; i < 5'000; ++i)
    keys.push_back(engine::DeterministicTaskId("sink", i, "task") + "/" + std::to_string(i % 7));
  keys.push_back("");
  keys.push_back(std::string(254, 'x'));  // a whole block
  keys.push_back(std::string(253, 'y'));
  for (const std::string& k : keys) EXPECT_TRUE(set.Insert(k)) << "new: " << k;
  for (const std::string& k : keys) EXPECT_FALSE(set.Insert(k)) << "held: " << k;
  EXPECT_EQ(set.size(), keys.size());
  EXPECT_TRUE(set.Insert(std::string(200, 'x')));
  EXPECT_TRUE(set.Insert(keys[0].substr(0, keys[0].size() - 1)));
  EXPECT_EQ(set.size(), keys.size() + 2);
  try {
    set.Insert(std::string(255, 'z'));
    ADD_FAILURE() << "a key over the block's room was taken";
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("255 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bound of 254"), std::string::npos) << e.what();
  }
  EXPECT_EQ(set.size(), keys.size() + 2) << "a refused key is not held";
}

}  // namespace
}  // namespace ithappens::harness
