// The do-nothing parts (STYLE.md): each can stand in for the real one while a test
// assembles a run piece by piece, and each does nothing a test could mistake for work.
#include "harness/parts.h"

#include <gtest/gtest.h>

#include "harness/targets/in_process_engine.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::harness {
namespace {

TEST(Parts, NoopClientAnswersFailAtOnceAndNamesTheCall) {
  NoopClient client;
  Operation op;
  op.proc = "client-0";
  op.f = "create";
  op.task = "T";
  int calls = 0;
  Completion got;
  client.Invoke(std::make_shared<const Operation>(op), [&](Completion c) {
    ++calls;
    got = std::move(c);
  });
  ASSERT_EQ(calls, 1) << "done is called exactly once";
  EXPECT_EQ(got.type, EventType::kFail) << "nothing was sent, so the call certainly had no effect";
  EXPECT_EQ(got.status.code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(got.status.message().find("create"), std::string::npos) << got.status.ToString();
  EXPECT_TRUE(got.claimed.empty());
}

TEST(Parts, NoopTargetTracksUpAndDown) {
  NoopTarget t;
  EXPECT_FALSE(t.Up());
  ASSERT_TRUE(t.Start().ok());
  EXPECT_TRUE(t.Up());
  t.Kill();
  EXPECT_FALSE(t.Up());
}

// The simulator's target: a power cut keeps what was acknowledged, and a restart after a
// failed commit keeps the engine down until its time.
TEST(Parts, InProcessEngineKeepsWhatWasAcknowledgedAndRestartsOnTime) {
  engine::ManualClock clock(testing::kStartMs);
  InProcessEngine target(&clock, engine::QueueOptions{});
  EXPECT_FALSE(target.Up());
  ASSERT_TRUE(target.Start().ok());
  ASSERT_TRUE(target.Up());
  const engine::TaskDefinition d = testing::MakeTask(1, testing::kStartMs);
  ASSERT_TRUE(target.queue().CreateTask(d).ok());
  target.Kill();
  EXPECT_FALSE(target.Up());
  ASSERT_TRUE(target.Start().ok());
  EXPECT_TRUE(target.queue().GetTask(d.task_id).ok()) << "an acknowledged create survives";
  target.Restarting(testing::kStartMs + 1'000);
  EXPECT_FALSE(target.Up());
  clock.SetMs(testing::kStartMs + 1'000);
  EXPECT_TRUE(target.Up());
  target.clock().offset_ms = 5'000;
  EXPECT_EQ(target.clock().NowMs(), testing::kStartMs + 6'000) << "the clock-jump offset";
}

TEST(Parts, NoopGeneratorIsDone) {
  NoopGenerator g;
  EXPECT_FALSE(g.Next().has_value());
}

}  // namespace
}  // namespace ithappens::harness
