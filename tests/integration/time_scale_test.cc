// Proves real mode's time: every process's clock runs at the run's time scale from one
// origin (a 10-minute lease expires in well under a minute at 1000x; a worker's one-minute
// sleep step takes about 0.6 s at 100x), and the engine's clock offset is switched at run
// time, forward (a deadline passes) and backward (accepted, the previous offset answered).
#include <gtest/gtest.h>

#include <thread>

#include "engine/clock.h"
#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

int64_t WallMs() { return engine::RealClock().NowMs(); }

TEST(ScaledClock, RunsAtItsScaleFromItsOriginAndTakesAnOffset) {
  const int64_t origin = WallMs();
  engine::ScaledClock clock(origin, 1000);
  const int64_t before = clock.NowMs();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(clock.NowMs() - before, 20'000) << "20 wall ms are at least 20 s at 1000x";
  EXPECT_EQ(clock.WallMsFor(60'000), 60);
  EXPECT_EQ(clock.WallMsFor(1), 1) << "a positive duration takes at least 1 ms";
  EXPECT_EQ(clock.WallMsFor(0), 0);
  const int64_t now = clock.NowMs();
  clock.SetOffsetMs(-3'600'000);
  EXPECT_LE(clock.NowMs(), now - 3'600'000 + 5'000) << "a backward jump";
  engine::ScaledClock wall(origin, 1);
  EXPECT_NEAR(static_cast<double>(wall.NowMs()), static_cast<double>(WallMs()), 50);
}

TEST(TimeScale, ALeaseOfTenMinutesExpiresInWallSecondsAtAThousandX) {
  Cluster c;
  const int64_t origin = WallMs();
  c.StartEngine({"--time-scale", "1000", "--time-origin-ms", std::to_string(origin),
                 "--claim-timeout-ms", "600000"});
  auto client = c.Client();
  engine::ScaledClock run_clock(origin, 1000);
  TaskDefinition d = MakeTask(1, run_clock.NowMs());
  ASSERT_TRUE(client.CreateTask(d).ok());
  std::vector<rpc::ClaimedTask> claims;
  ASSERT_TRUE(client.ClaimWork("g", "w", 1, &claims).ok());
  ASSERT_EQ(claims.size(), 1u);
  // Nobody reclaims: at 1000x the 10-minute lease ends after ~0.6 wall s (at 1x this
  // wait of at most 30 s would not see it).
  auto expired = AwaitTasks(
      client, {d.task_id},
      [](const auto& s) {
        return !s.runs.empty() && s.runs[0].reason_resolved == ReasonResolved::kClaimExpired;
      },
      30'000);
  ASSERT_FALSE(expired[0].runs.empty());
  EXPECT_EQ(expired[0].runs[0].reason_resolved, ReasonResolved::kClaimExpired);
  EXPECT_GE(expired[0].runs[0].resolved_ms - expired[0].runs[0].started_ms, 600'000)
      << "in the engine's time the whole lease went by";
}

TEST(TimeScale, AWorkersSleepStepRunsAtTheScale) {
  Cluster c;
  const std::string origin = std::to_string(WallMs());
  c.StartEngine({"--time-scale", "100", "--time-origin-ms", origin});
  c.StartSink({"--time-scale", "100", "--time-origin-ms", origin});
  c.StartWorker("w", {"--time-scale", "100", "--time-origin-ms", origin});
  auto client = c.Client();
  engine::ScaledClock run_clock(std::stoll(origin), 100);
  TaskDefinition d = MakeTask(1, run_clock.NowMs());
  d.payload = R"([{"sleep_ms":60000},{"exit":0}])";  // one minute of run time
  ASSERT_TRUE(client.CreateTask(d).ok());
  auto done = AwaitTasks(
      client, {d.task_id}, [](const auto& s) { return engine::IsResolved(s.state); }, 30'000);
  EXPECT_EQ(done[0].state, TaskState::kCompleted) << "at 1x this wait would end first";
  ASSERT_FALSE(done[0].runs.empty());
  EXPECT_GE(done[0].runs[0].resolved_ms - done[0].runs[0].started_ms, 60'000);
}

TEST(TimeScale, TheEnginesClockJumpsForwardAndBackAtRunTime) {
  Cluster c;
  c.StartEngine();
  auto client = c.Client();
  TaskDefinition d = MakeTask(1, WallMs());
  d.deadline_ms = d.created_ms + 30 * 60'000;
  d.dependencies = {};
  ASSERT_TRUE(client.CreateTask(d).ok());
  auto control = v1::EngineControl::NewStub(rpc::Connect(c.engine_address()));
  v1::ClockOffset jump, previous;
  jump.set_offset_ms(3'600'000);  // an hour ahead: the deadline is behind it
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(control->SetClockOffset(&ctx, jump, &previous).ok());
  }
  EXPECT_EQ(previous.offset_ms(), 0);
  auto late = AwaitTasks(
      client, {d.task_id}, [](const auto& s) { return engine::IsResolved(s.state); }, 30'000);
  ASSERT_FALSE(late[0].runs.empty());
  EXPECT_EQ(late[0].runs.back().reason_resolved, ReasonResolved::kDeadlineExceeded);
  jump.set_offset_ms(-3'600'000);  // and back, past where it began
  grpc::ClientContext ctx;
  ASSERT_TRUE(control->SetClockOffset(&ctx, jump, &previous).ok());
  EXPECT_EQ(previous.offset_ms(), 3'600'000);
}

}  // namespace
}  // namespace ithappens::testing
