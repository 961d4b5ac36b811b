// Proves how real mode's history gets the workers' side: ithappens-worker --history records
// each call (claim, reclaim, report-*) as an invoke and its completion in the history's
// format and the run's time, and MergeHistories joins such records from several sources
// into one numbered history in time order that the harness's reader accepts.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "engine/server/daemon.h"
#include "harness/history/history.h"
#include "harness/real/merge.h"
#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

// A process killed mid-line leaves a torn last line in its record file (the kernel stops a
// write between pages); the next life cuts it before appending, so no record is glued to a
// fragment. Whole lines are kept; a file without any newline is all torn.
TEST(WorkerHistory, ATornLastLineIsCutBeforeTheNextLifeAppends) {
  TempDir dir;
  const std::string path = (dir.path() / "ops.jsonl").string();
  auto cut = daemon::CutTornTail(path);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, 0) << "no file yet";
  std::ofstream(path) << "{\"a\":1}\n{\"b\":2}\n{\"runs\":";
  cut = daemon::CutTornTail(path);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, 8);  // {"runs":
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(*daemon::CutTornTail(path), 0) << "whole lines stay";
  const std::string big(10'000, 'x');  // a torn tail longer than the block read back
  std::ofstream(path, std::ios::app) << big;
  EXPECT_EQ(*daemon::CutTornTail(path), 10'000);
  std::ofstream(path, std::ios::trunc) << "no newline at all";
  EXPECT_EQ(*daemon::CutTornTail(path), 17);
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(WorkerHistory, EveryCallOfTheWorkerIsRecordedAndMergesIntoAHistory) {
  Cluster c;
  const int64_t origin = engine::RealClock().NowMs();
  const std::string o = std::to_string(origin);
  c.StartEngine({"--time-origin-ms", o});
  c.StartSink({"--time-origin-ms", o});
  const auto log = c.dir().path() / "worker-0.ops.jsonl";
  c.StartWorker("worker-0", {"--history", log.string(), "--time-origin-ms", o});
  auto client = c.Client();
  std::vector<TaskDefinition> defs;
  for (const char* program : {R"([{"exit":0}])", R"([{"exit":2}])",
                              R"([{"fail_if_attempt_below":2},{"exit":0}])"}) {
    defs.push_back(MakeTask(static_cast<uint32_t>(defs.size() + 1), engine::RealClock().NowMs()));
    defs.back().payload = program;
    ASSERT_TRUE(client.CreateTask(defs.back()).ok());
  }
  std::vector<std::string> ids;
  for (const auto& d : defs) ids.push_back(d.task_id);
  AwaitTasks(client, ids, [](const auto& s) { return engine::IsResolved(s.state); }, 30'000);
  c.worker("worker-0").Signal(SIGTERM);
  c.worker("worker-0").Wait();

  // A second source, the harness's own record, interleaves by time.
  const auto mine = c.dir().path() / "harness.jsonl";
  std::ofstream(mine) << R"({"t_ns":0,"proc":"nemesis","type":"fault","f":"partition-start","value":{"target":"worker-9"}})"
                      << "\n";
  const auto history = c.dir().path() / "history.jsonl";
  ASSERT_TRUE(harness::MergeHistories({mine, log}, history).ok());

  std::map<std::string, int> seen;  // "f type task#" -> count
  int64_t next_i = 0, last_t = -1;
  std::string error;
  ASSERT_TRUE(harness::ReadEvents(
      history.string(),
      [&](const harness::EventView& e) {
        EXPECT_EQ(e.i, next_i++);
        EXPECT_GE(e.t_ns, last_t) << "in time order";
        last_t = e.t_ns;
        std::string task = "-";
        for (size_t k = 0; k < ids.size(); ++k)
          if (e.task == ids[k]) task = std::to_string(k);
        seen[std::string(e.f) + " " + std::string(harness::ToString(e.type)) + " " + task]++;
      },
      &error))
      << error;
  EXPECT_EQ(seen["partition-start fault -"], 1);
  EXPECT_GE(seen["claim invoke -"], 1);
  EXPECT_GE(seen["claim ok -"], 1);
  EXPECT_EQ(seen["report-completed ok 0"], 1);
  EXPECT_EQ(seen["report-failed ok 1"], 1);
  EXPECT_EQ(seen["report-exception ok 2"], 1) << "the first attempt asks for a retry";
  EXPECT_EQ(seen["report-completed ok 2"], 1) << "the retry completes";
  EXPECT_EQ(seen["report-completed invoke 0"], 1);
}

TEST(WorkerHistory, AMergeNamesTheSourceAndLineOfABadRecord) {
  testing::TempDir dir;
  const auto bad = dir.path() / "bad.jsonl";
  std::ofstream(bad) << R"({"t_ns":1,"proc":"w","type":"ok","f":"claim"})" << "\n"
                     << R"({"t_ns":2,"proc":"w","type":"nope","f":"claim"})" << "\n";
  auto st = harness::MergeHistories({bad}, dir.path() / "h.jsonl");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad.jsonl:2: "), std::string::npos) << st.message();
}

// A merged history the disk does not take fails the merge with the cause, never a short
// history judged as if the platform had lost what the disk dropped.
TEST(WorkerHistory, AMergeTheDiskRefusesFailsWithTheCause) {
  testing::TempDir dir;
  const auto good = dir.path() / "good.jsonl";
  std::ofstream(good) << R"({"t_ns":1,"proc":"w","type":"ok","f":"claim"})"
                      << "\n";
  auto st = harness::MergeHistories({good}, "/dev/full");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/dev/full: writing the history failed"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ithappens::testing
