// The do-nothing parts (STYLE.md): each can stand in for the real one while a test
// assembles a run piece by piece, and each does nothing a test could mistake for work.
#include "harness/parts.h"

#include <gtest/gtest.h>

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
  client.Invoke(op, [&](Completion c) {
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

TEST(Parts, NoopGeneratorIsDone) {
  NoopGenerator g;
  EXPECT_FALSE(g.Next().has_value());
}

}  // namespace
}  // namespace ithappens::harness
