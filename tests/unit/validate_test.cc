// Proves every bound and malformed field of createTask is refused with INVALID_ARGUMENT
// and a message that names the field and the bound, and that nothing is created.
#include <gtest/gtest.h>

#include <functional>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

struct BadInput {
  std::string name;
  std::function<void(TaskDefinition&)> mutate;
  std::vector<std::string> message_parts;  // each must appear in the error
};

std::string LongString(size_t n) { return std::string(n, 'x'); }

std::vector<BadInput> Cases() {
  return {
      {"TaskIdTooShort", [](auto& d) { d.task_id = "abc"; }, {"taskId", "22 characters"}},
      {"TaskIdBadChars", [](auto& d) { d.task_id = "aaaaaaaaaaaaaaaaaaaa+A"; }, {"taskId", "slug"}},
      {"TaskGroupIdBad", [](auto& d) { d.task_group_id = "nope"; }, {"taskGroupId", "slug"}},
      {"RetriesNegative", [](auto& d) { d.retries = -1; }, {"retries", "-1", "0..49"}},
      {"RetriesTooMany", [](auto& d) { d.retries = 50; }, {"retries", "50", "0..49"}},
      {"TooManyDependencies",
       [](auto& d) {
         for (uint32_t i = 0; i < 101; ++i) d.dependencies.push_back(TaskId(1000 + i));
       },
       {"dependencies", "101", "100"}},
      {"DependencyNotSlug", [](auto& d) { d.dependencies = {"x"}; }, {"dependencies[0]", "slug"}},
      {"DependencyTwice",
       [](auto& d) {
         d.dependencies = {TaskId(7), TaskId(7)};
       },
       {"dependencies[1]", "twice"}},
      {"DependsOnItself",
       [](auto& d) { d.dependencies = {d.task_id}; },
       {"dependencies[0]", "itself"}},
      {"DependencyMissing",
       [](auto& d) { d.dependencies = {TaskId(999)}; },
       {"dependencies[0]", "does not exist"}},
      {"TooManyRoutes",
       [](auto& d) { d.routes.assign(65, "notify.email.a@b.c.on-failed"); },
       {"routes", "65", "64"}},
      {"RouteTooLong", [](auto& d) { d.routes = {LongString(250)}; }, {"routes[0]", "250", "249"}},
      {"RouteEmpty", [](auto& d) { d.routes = {""}; }, {"routes[0]", "empty"}},
      {"PayloadTooLarge",
       [](auto& d) { d.payload = LongString(64 * 1024 + 1); },
       {"payload", "65537", "65536"}},
      {"MetadataNameTooLong",
       [](auto& d) { d.metadata.name = LongString(256); },
       {"metadata.name", "256", "255"}},
      {"MetadataDescriptionTooLong",
       [](auto& d) { d.metadata.description = LongString(32769); },
       {"metadata.description", "32768"}},
      {"MetadataOwnerTooLong",
       [](auto& d) { d.metadata.owner = LongString(256); },
       {"metadata.owner", "255"}},
      {"MetadataSourceTooLong",
       [](auto& d) { d.metadata.source = LongString(4097); },
       {"metadata.source", "4096"}},
      {"CreatedTooOld", [](auto& d) { d.created_ms -= 16 * 60 * 1000; }, {"created", "900000"}},
      {"CreatedInFuture",
       [](auto& d) {
         d.created_ms += 16 * 60 * 1000;
         d.deadline_ms += 16 * 60 * 1000;
       },
       {"created", "900000"}},
      {"DeadlineBeforeCreated",
       [](auto& d) { d.deadline_ms = d.created_ms; },
       {"deadline", "after created"}},
      {"DeadlineTooFar",
       [](auto& d) { d.deadline_ms = d.created_ms + 5 * 24 * kHourMs + 1; },
       {"deadline", "5 days"}},
      {"ExpiresBeforeDeadline",
       [](auto& d) { d.expires_ms = d.deadline_ms - 1; },
       {"expires", "before deadline"}},
  };
}

class CreateTaskRejects : public ::testing::TestWithParam<BadInput> {};

TEST_P(CreateTaskRejects, NamesFieldAndBound) {
  TestQueue t(StoreKind::kMemory);
  TaskDefinition def = MakeTask(1, t.clock().NowMs());
  GetParam().mutate(def);
  Status st = t.q().CreateTask(def);
  ASSERT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  for (const auto& part : GetParam().message_parts) {
    EXPECT_NE(st.message().find(part), std::string::npos)
        << "message '" << st.message() << "' lacks '" << part << "'";
  }
  EXPECT_EQ(t.q().CountByState()[0] + t.q().CountByState()[1], 0) << "nothing was created";
}

INSTANTIATE_TEST_SUITE_P(Bounds, CreateTaskRejects, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CreateTaskAccepts, LimitsThemselves) {
  TestQueue t(StoreKind::kMemory);
  TaskDefinition dep = MakeTask(1, kStartMs);
  ASSERT_TRUE(t.q().CreateTask(dep).ok());
  TaskDefinition d = MakeTask(2, kStartMs, {dep.task_id});
  d.retries = 49;
  d.routes.assign(64, std::string(249, 'r'));
  d.payload = std::string(64 * 1024, 'p');
  d.deadline_ms = d.created_ms + 5 * 24 * kHourMs;
  d.metadata.name = std::string(255, 'n');
  Status st = t.q().CreateTask(d);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(WorkerInput, ClaimRejectsBadWorkerAndBatchSize) {
  TestQueue t(StoreKind::kMemory);
  std::vector<Claim> claims;
  Status st = t.q().ClaimWork("", "w", 1, &claims);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("workerGroup"), std::string::npos);
  st = t.q().ClaimWork("g", std::string(129, 'w'), 1, &claims);
  EXPECT_NE(st.message().find("workerId: length 129 exceeds the limit of 128"), std::string::npos)
      << st.message();
  st = t.q().ClaimWork("g", "w", 1001, &claims);
  EXPECT_NE(st.message().find("1..1000"), std::string::npos) << st.message();
  st = t.q().ClaimWork("g", "w", 0, &claims);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ithappens::testing
