// Proves the worker's payload parser accepts every step of DESIGN.md's program format and
// refuses malformed programs with a message naming the step, the field and the bound.
#include "engine/payload.h"

#include <gtest/gtest.h>

namespace ithappens::worker {
namespace {

TEST(Payload, ParsesEveryStepKind) {
  auto p = ParsePayload(R"([{"sleep_ms":50},{"cpu_ms":1},{"alloc_mb":2},
      {"effect":{"channel":"sms","to":"patient-437"}},{"fail_if_attempt_below":3},{"crash":9},{"exit":0}])");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->steps.size(), 7u);
  EXPECT_EQ(p->steps[0].kind, Step::Kind::kSleep);
  EXPECT_EQ(p->steps[0].value, 50);
  EXPECT_EQ(p->steps[3].kind, Step::Kind::kEffect);
  EXPECT_EQ(p->steps[3].to, "patient-437");
  EXPECT_EQ(p->steps[5].value, 9);
}

TEST(Payload, ObjectFormCarriesAMemoryBudget) {
  auto p = ParsePayload(R"({"steps":[{"alloc_mb":64}],"memory_limit_mb":32})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->memory_limit_mb, 32);
}

TEST(Payload, RejectsMalformedProgramsNamingTheStep) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {"not json", "payload: not valid JSON"},
      {R"({"memory_limit_mb":1})", "payload.steps: missing"},
      {R"([{"sleep_ms":3600001}])", "payload.steps[0].sleep_ms: 3600001 is outside 0..3600000"},
      {R"([{"exit":0},{"exit":256}])", "payload.steps[1].exit: 256 is outside 0..255"},
      {R"([{"teleport":1}])", "unknown step 'teleport'"},
      {R"([{"exit":0,"sleep_ms":1}])", "exactly one key"},
      {R"([{"effect":{"channel":"fax","to":"x"}}])", "effect.channel: 'fax'"},
      {R"([{"effect":{"channel":"sms"}}])", "effect.to"},
      {R"([{"cpu_ms":"10"}])", "cpu_ms: must be an integer"},
  };
  for (const auto& k : cases) {
    auto p = ParsePayload(k.json);
    ASSERT_FALSE(p.ok()) << k.json;
    EXPECT_EQ(p.status().code(), engine::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(k.needle), std::string::npos)
        << k.json << " -> " << p.status().message();
  }
}

TEST(Payload, BoundsTheNumberOfSteps) {
  std::string many = "[";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"exit":0})";
  many += "]";
  auto p = ParsePayload(many);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("1001 steps exceed the limit of 1000"), std::string::npos);
}

}  // namespace
}  // namespace ithappens::worker
