// The report's plot data: each task's state over time as the history shows it, including
// the states no event announces at the time (a hook's pending task, a deadline's
// resolution), and the fault windows.
#include "harness/history/timeline.h"

#include <gtest/gtest.h>

#include <fstream>

#include "harness/history/history.h"
#include "tests/testing/engine_fixtures.h"
#include "tests/testing/history_fixtures.h"

namespace ithappens::harness {
namespace {

using nlohmann::json;

class TimelineTest : public ::testing::Test {
 protected:
  void Add(int64_t ms, std::string proc, EventType type, std::string f, std::string task,
           json value = json(), std::string error = "") {
    lines_.push_back(EventToJson(testing::MakeEvent(
        static_cast<int64_t>(lines_.size()), ms * 1'000'000, std::move(proc), type, std::move(f),
        std::move(task), std::move(value), std::move(error))));
  }
  Timeline Build(int samples) {
    const auto path = dir_.path() / "h.jsonl";
    std::ofstream out(path);
    for (const auto& l : lines_) out << l << "\n";
    out.close();
    Timeline t;
    std::string error;
    EXPECT_TRUE(BuildTimeline(path.string(), samples, &t, &error)) << error;
    return t;
  }
  // How many tasks were in state at the sample taken at ms.
  static int64_t At(const Timeline& t, const std::string& state, int64_t ms) {
    for (size_t k = 0; k < t.t_s.size(); ++k) {
      if (static_cast<int64_t>(t.t_s[k] * 1000) != ms) continue;
      auto it = t.tasks.find(state);
      return it == t.tasks.end() ? 0 : it->second[k];
    }
    ADD_FAILURE() << "no sample at " << ms;
    return -1;
  }
  std::vector<std::string> lines_;
  testing::TempDir dir_;
};

TEST_F(TimelineTest, TasksMoveWhenTheHistorySaysAndFaultsArePaired) {
  Add(0, "plan", EventType::kPlan, "hook", "",
      {{"hook", "h"}, {"fires", {{{"at_ms", 500}, {"task", "H"}}}}, {"next_ms", 60'000}});
  Add(1000, "client-0", EventType::kOk, "create", "A", {{"task_id", "A"}});
  Add(1000, "client-0", EventType::kOk, "create", "B", {{"task_id", "B"}});
  Add(1000, "nemesis", EventType::kFault, "partition-start", "", {{"target", "worker-0"}});
  Add(2000, "worker-0", EventType::kOk, "claim", "",
      {{"runs", {{{"task", "A"}, {"run", 0}}, {{"task", "H"}, {"run", 0}}}}});
  Add(3000, "worker-0", EventType::kOk, "report-completed", "A", {{"run", 0}});
  Add(4000, "nemesis", EventType::kFault, "partition-stop", "", {{"target", "worker-0"}});
  auto run = [](const char* state, int64_t resolved) {
    return json{{"state", state}, {"started_ms", 1}, {"resolved_ms", resolved}};
  };
  Add(10'000, "final", EventType::kFinal, "status", "A",
      {{"state", "completed"}, {"runs", {run("completed", 3000)}}});
  Add(10'000, "final", EventType::kFinal, "status", "B",  // its deadline resolved it at 5 s
      {{"state", "exception"}, {"runs", {run("exception", 5000)}}});
  Add(10'000, "final", EventType::kFinal, "status", "H",
      {{"state", "completed"}, {"runs", {run("completed", 2500)}}});
  Timeline t = Build(11);  // a sample each second
  EXPECT_EQ(At(t, "pending", 0), 0);
  EXPECT_EQ(At(t, "pending", 1000), 3) << "A and B created, H fired at 0.5 s";
  EXPECT_EQ(At(t, "running", 2000), 2) << "A and H claimed";
  EXPECT_EQ(At(t, "pending", 2000), 1) << "a claimed task left pending: only B waits";
  EXPECT_EQ(At(t, "running", 3000), 0) << "a run's task is the task its report names";
  EXPECT_EQ(At(t, "completed", 3000), 2) << "H resolved at 2.5 s, A reported at 3 s";
  EXPECT_EQ(At(t, "pending", 4000), 1) << "B still waits";
  EXPECT_EQ(At(t, "exception", 6000), 1) << "B's deadline resolved it at 5 s, not at the read";
  EXPECT_EQ(At(t, "pending", 6000), 0);
  ASSERT_EQ(t.faults.size(), 1u);
  EXPECT_EQ(t.faults[0].kind, "partition");
  EXPECT_EQ(t.faults[0].target, "worker-0");
  EXPECT_DOUBLE_EQ(t.faults[0].start_s, 1.0);
  EXPECT_DOUBLE_EQ(t.faults[0].end_s, 4.0);
  EXPECT_EQ(t.faults[0].tasks_in_flight, 3) << "A, B and H: each task once, however named";
  EXPECT_EQ(t.faults[0].requests, 1) << "worker-0's claim that handed out runs";
}

}  // namespace
}  // namespace ithappens::harness
