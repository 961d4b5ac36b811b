// Proves the `ithappens` command's contract: exit 0 when every property holds, 1 when one
// is violated (with the reproduce command), 2 for a bad scenario or flag (naming file,
// line and field), and that `check` re-judges a recorded history the same way; a run
// writes history.jsonl, report.json, junit.xml, summary.md and command.txt.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "harness/checker.h"
#include "harness/cli/outputs.h"
#include "harness/fault_kind.h"
#include "harness/history/history.h"
#include "harness/scenario/scenario.h"
#include "harness/sim/heap.h"
#include "tests/testing/engine_fixtures.h"
#include "tests/testing/history_fixtures.h"

namespace ithappens::harness {
namespace {

struct Output {
  int code;
  std::string text;
};

// With env ("NAME=value ...") set for the command.
Output IthappensWithEnv(const std::string& env, const std::string& args) {
  std::string cmd = env + " " + std::string(ITHAPPENS_BIN_DIR) + "/ithappens " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) text.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

Output Ithappens(const std::string& args) { return IthappensWithEnv("", args); }

std::string Smoke() { return std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/smoke.yaml"; }

// The processes whose command line names dir: a real run's processes all do (their
// database, logs and port files are under its run directory). Other tests may run engines
// meanwhile; these are this test's.
std::vector<std::string> ProcessesNaming(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(proc.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(dir.string() + "/") != std::string::npos &&
        cmdline.find("/ithappens run ") == std::string::npos) {
      found.push_back(proc.path().filename().string() + ": " + cmdline);
    }
  }
  return found;
}

// ProcessesNaming once they had 5 s to go: fusermount3, the power-cut file system's
// unmount watcher, exits a moment after its unmount (it was seen alive just after, once).
std::vector<std::string> ProcessesLeft(const std::filesystem::path& dir) {
  for (int i = 0; i < 100 && !ProcessesNaming(dir).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return ProcessesNaming(dir);
}

// Memory cgroups our runs made ("ithappens-<pid>-<n>-<process>") whose harness is gone: a
// run must remove its own (other runs, alive in parallel tests, may hold theirs).
std::vector<std::string> LeakedCgroups() {
  std::vector<std::string> leaked;
  for (const char* root : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup"}) {
    std::error_code ec;
    for (const auto& d : std::filesystem::directory_iterator(root, ec)) {
      const std::string name = d.path().filename().string();
      if (name.rfind("ithappens-", 0) != 0 || name.rfind("ithappens-probe", 0) == 0) continue;
      const pid_t pid = std::atoi(name.c_str() + 10);
      if (pid > 0 && kill(pid, 0) != 0) leaked.push_back(d.path().string());
    }
  }
  return leaked;
}

// The engine's port, from its port file in a real run's directory (-1: none).
int EnginePort(const std::filesystem::path& run_dir) {
  std::ifstream f(run_dir / "real" / "engine.port");
  int port = -1;
  f >> port;
  return port;
}

// Whether something accepts connections on 127.0.0.1:port.
bool PortAccepts(int port) {
  if (port <= 0) return false;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// A history's hash (a bench's rounds and a run's self-check compare them) tells apart
// files that differ in any one byte: in a lane of the first 32 bytes, in the 8-byte and
// single-byte tails, on each side of the 1 MiB chunks it is read in, or by one byte more;
// the same bytes in another file hash the same.
TEST(Cli, AHistorysHashTellsApartFilesThatDifferInAnyOneByte) {
  testing::TempDir dir;
  std::string text((3 << 20) + 13, '\0');
  uint64_t x = 1;
  for (char& c : text) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(x >> 56);
  }
  auto hash_of = [&](const std::string& bytes, const std::string& name) {
    const std::filesystem::path p = dir.path() / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return FileHash(p.string());
  };
  const std::string h = hash_of(text, "a");
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(hash_of(text, "b"), h);
  std::set<std::string> seen{h};
  for (const size_t at : {size_t{0}, size_t{7}, size_t{8}, size_t{31}, size_t{32},
                          (size_t{1} << 20) - 1, size_t{1} << 20, (size_t{1} << 20) + 5,
                          text.size() - 13, text.size() - 6, text.size() - 1}) {
    std::string changed = text;
    changed[at] = static_cast<char>(changed[at] ^ 0x20);
    EXPECT_TRUE(seen.insert(hash_of(changed, "c")).second) << "one byte changed at " << at;
  }
  EXPECT_TRUE(seen.insert(hash_of(text + "x", "d")).second) << "one byte more";
  EXPECT_TRUE(seen.insert(hash_of(text.substr(0, 20), "e")).second) << "a short file";
  EXPECT_TRUE(seen.insert(hash_of(text.substr(0, 21), "f")).second);
  EXPECT_EQ(hash_of("", "g").size(), 16u);
}

// h's events as dir/history.jsonl; its path.
std::string WriteHistory(const testing::TempDir& dir, const testing::HistoryBuilder& h) {
  const std::string path = (dir.path() / "history.jsonl").string();
  HistoryWriter w(path);
  for (Event e : h.events()) w.Append(e);
  std::string error;
  EXPECT_TRUE(w.Close(&error)) << error;
  return path;
}

// A run's reports come from one read of its history (ReadHistoryFacts): the checkers, the
// root causes, the timeline, the memory series and the latency each see every event, and
// say what reading the history once for each of them says. The history has a bit of each:
// a dependency blocked by a failed task, a fault window, a hook's fire, a supervisor's
// memory samples and an OOM kill, calls answered later.
TEST(Cli, ARunsReportsComeFromOneReadOfItsHistoryAndSayWhatAReadForEachSays) {
  using nlohmann::json;
  testing::HistoryBuilder h;
  h.Plan("A", "failed").Plan("B", "exception", {{"deps", {"A"}}});
  h.Add("plan", EventType::kPlan, "hook", "",
        {{"hook", "h"}, {"fires", {{{"at_ms", 3}, {"task", "H"}}}}, {"next_ms", 60'000}});
  h.Add("supervisor", EventType::kInfo, "started", "",
        {{"memory_limit",
          {{"mechanism", "cgroup-v1"}, {"worker_bytes", 64 << 20}, {"sink_bytes", 32 << 20}}}});
  h.Created("A").Created("B");
  h.Add("nemesis", EventType::kFault, "partition-start", "", {{"target", "worker-0"}});
  h.Ran("A", 0, "report-failed");
  h.Add("nemesis", EventType::kFault, "partition-stop", "", {{"target", "worker-0"}});
  for (int k = 0; k < 8; ++k)
    h.Add("supervisor", EventType::kInfo, "rss", "",
          {{"bytes", {{"worker-0", (10 + 8 * k) << 20}, {"sink", 5 << 20}}}});
  h.Add("nemesis", EventType::kFault, "worker-oom", "", {{"target", "worker-0"}});
  h.Ran("H", 0, "report-completed");
  h.Final("A", "failed", json::array({{{"state", "failed"}, {"resolved_ms", 9}}}));
  h.Final("B", "exception", json::array(), {{"blocked_by", "A"}});
  h.Final("H", "completed", json::array({{{"state", "completed"}, {"resolved_ms", 30}}}));
  testing::TempDir dir;
  const std::string path = WriteHistory(dir, h);

  HistoryFacts facts;
  std::string error;
  ASSERT_TRUE(ReadHistoryFacts(path, 40, &facts, &error)) << error;
  const auto results = CheckHistoryFile(path, &error);
  ASSERT_EQ(facts.results.size(), results.size());
  for (size_t k = 0; k < results.size(); ++k) {
    EXPECT_EQ(facts.results[k].checker, results[k].checker);
    EXPECT_EQ(facts.results[k].valid, results[k].valid) << results[k].checker;
    EXPECT_EQ(facts.results[k].counts, results[k].counts) << results[k].checker;
  }
  const auto roots = RootCauses(path, &error);
  ASSERT_EQ(roots.size(), 1u) << "B was blocked by A";
  ASSERT_EQ(facts.roots.size(), 1u);
  EXPECT_EQ(facts.roots[0].task, roots[0].task);
  EXPECT_EQ(facts.roots[0].examples, roots[0].examples);

  Timeline timeline;
  ASSERT_TRUE(BuildTimeline(path, 200, &timeline, &error)) << error;
  ASSERT_FALSE(timeline.tasks.empty());
  EXPECT_EQ(facts.timeline.t_s, timeline.t_s);
  EXPECT_EQ(facts.timeline.tasks, timeline.tasks);
  ASSERT_EQ(timeline.faults.size(), 1u) << "the partition (an OOM kill is no window)";
  ASSERT_EQ(facts.timeline.faults.size(), 1u);
  EXPECT_EQ(facts.timeline.faults[0].kind, timeline.faults[0].kind);
  EXPECT_EQ(facts.timeline.faults[0].tasks_in_flight, timeline.faults[0].tasks_in_flight);
  EXPECT_EQ(facts.timeline.faults[0].requests, timeline.faults[0].requests);

  Memory memory;
  ASSERT_TRUE(BuildMemory(path, &memory, &error)) << error;
  EXPECT_EQ(memory.mechanism, "cgroup-v1");
  ASSERT_EQ(memory.t_s.size(), 8u);
  EXPECT_EQ(facts.memory.mechanism, memory.mechanism);
  EXPECT_EQ(facts.memory.worker_limit_bytes, memory.worker_limit_bytes);
  EXPECT_EQ(facts.memory.t_s, memory.t_s);
  EXPECT_EQ(facts.memory.oom_kills, memory.oom_kills);
  EXPECT_EQ(facts.memory.back_to_work_s, memory.back_to_work_s);
  ASSERT_EQ(facts.memory.procs.size(), memory.procs.size());
  for (const auto& [proc, series] : memory.procs) {
    EXPECT_EQ(facts.memory.procs[proc].bytes, series.bytes) << proc;
    EXPECT_EQ(facts.memory.procs[proc].growing, series.growing) << proc;
  }

  Latency latency;
  ASSERT_TRUE(BuildLatency(path, 40, &latency, &error)) << error;
  ASSERT_TRUE(latency.ops.contains("claim"));
  EXPECT_EQ(facts.latency.t_s, latency.t_s);
  ASSERT_EQ(facts.latency.ops.size(), latency.ops.size());
  for (const auto& [op, series] : latency.ops) {
    EXPECT_EQ(facts.latency.ops[op].calls, series.calls) << op;
    EXPECT_EQ(facts.latency.ops[op].per_s, series.per_s) << op;
    EXPECT_EQ(facts.latency.ops[op].p99_ms_t, series.p99_ms_t) << op;
  }
  HistoryFacts sim;  // no latency asked for (a simulated run's reports have none)
  ASSERT_TRUE(ReadHistoryFacts(path, 0, &sim, &error)) << error;
  EXPECT_TRUE(sim.latency.ops.empty());
}

// A simulated run's checkers and report series read its history while the simulator
// writes it (RunSimAndReport), or after it where memory is short: either way, what they say
// is what reading the finished file says, for a correct engine and for one whose bugs make
// counterexamples.
TEST(Cli, ARunJudgesItsHistoryAsItIsWrittenAndSaysWhatItsFileSays) {
  const std::string file = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/invoice-workflow.yaml";
  auto s = LoadScenario(file);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  for (const char* during : {"1", "0"})
    for (const char* bug : {"", "lose-pending-on-restart", "blame-user-for-platform"}) {
      SCOPED_TRACE(std::string(bug) + (*during == '1' ? " read during the run" : " read after"));
      engine::BugSwitches bugs;
      if (*bug != '\0') {
        ASSERT_TRUE(engine::EnableBugSwitch(bug, &bugs).ok());
      }
      testing::TempDir out;
      setenv("ITHAPPENS_READ_DURING_RUN", during, 1);
      const SimRun run =
          RunSimAndReport(*s, file, out.path().string(), 5, 2.0, bugs, "", false, false);
      unsetenv("ITHAPPENS_READ_DURING_RUN");
      ASSERT_NE(run.exit, kExitHarness);
      HistoryFacts facts;
      std::string error;
      ASSERT_TRUE(ReadHistoryFacts((run.dir / "history.jsonl").string(), 0, &facts, &error))
          << error;
      ASSERT_EQ(run.results.size(), facts.results.size());
      int counterexamples = 0;
      for (size_t k = 0; k < facts.results.size(); ++k) {
        const CheckResult &a = run.results[k], &b = facts.results[k];
        EXPECT_EQ(a.valid, b.valid) << b.checker;
        EXPECT_EQ(a.counts, b.counts) << b.checker;
        ASSERT_EQ(a.counterexamples.size(), b.counterexamples.size()) << b.checker;
        for (size_t c = 0; c < b.counterexamples.size(); ++c) {
          EXPECT_EQ(a.counterexamples[c].events, b.counterexamples[c].events) << b.checker;
          EXPECT_EQ(a.counterexamples[c].explanation, b.counterexamples[c].explanation);
        }
        counterexamples += static_cast<int>(b.counterexamples.size());
      }
      EXPECT_EQ(*bug == '\0', counterexamples == 0) << "the bugs are caught, the engine is not";
      EXPECT_EQ(run.timeline.t_s, facts.timeline.t_s);
      EXPECT_EQ(run.timeline.tasks, facts.timeline.tasks);
      ASSERT_EQ(run.roots.size(), facts.roots.size());
      for (size_t k = 0; k < facts.roots.size(); ++k)
        EXPECT_EQ(run.roots[k].task, facts.roots[k].task);
    }
}

// A run reads its history during the simulation only where the reader's memory fits
// beside the simulator's: not under an address-space limit that leaves too little room
// (measured in a child, whose limit is its own), and ITHAPPENS_READ_DURING_RUN decides
// when set.
TEST(Cli, ARunReadsItsHistoryDuringTheSimulationOnlyWhereMemoryAllowsIt) {
  unsetenv("ITHAPPENS_READ_DURING_RUN");
  EXPECT_TRUE(ReadDuringRun(10'000)) << "15 MB of reader beside the simulator: this machine";
  EXPECT_FALSE(ReadDuringRun(1e12)) << "1.5 PB of reader: no machine";
  const ChildRun child = RunInChild([](int fd) {
    const rlimit limit{static_cast<rlim_t>(VirtualBytes() + (400 << 20)),
                       static_cast<rlim_t>(VirtualBytes() + (400 << 20))};
    if (setrlimit(RLIMIT_AS, &limit) != 0) return 2;
    const std::string said =
        std::string(ReadDuringRun(10'000) ? "1" : "0") + (ReadDuringRun(1'000'000) ? "1" : "0");
    return write(fd, said.data(), said.size()) == 2 ? 0 : 3;
  });
  ASSERT_TRUE(child.Succeeded()) << child.error << child.How();
  EXPECT_EQ(child.out, "10") << "400 MB of room: 10^4 tasks during the run, 10^6 after it";
  setenv("ITHAPPENS_READ_DURING_RUN", "1", 1);
  EXPECT_TRUE(ReadDuringRun(1e12));
  setenv("ITHAPPENS_READ_DURING_RUN", "0", 1);
  EXPECT_FALSE(ReadDuringRun(10));
  unsetenv("ITHAPPENS_READ_DURING_RUN");
}

// A value the report's series cannot take (a memory sample that is not a number) fails
// the read with the event named, as a malformed line does: never an exception out of the
// run, and never a report that leaves the sample out.
TEST(Cli, ARunsReportsRefuseAHistoryTheirSeriesCannotTakeNamingTheEvent) {
  testing::HistoryBuilder h;
  h.Plan("A", "completed").Created("A");
  h.Add("supervisor", EventType::kInfo, "rss", "", {{"bytes", {{"worker-0", "lots"}}}});
  testing::TempDir dir;
  const std::string path = WriteHistory(dir, h);
  HistoryFacts facts;
  std::string error;
  EXPECT_FALSE(ReadHistoryFacts(path, 0, &facts, &error));
  EXPECT_THAT(error, ::testing::HasSubstr("event 3"));
  EXPECT_THAT(error, ::testing::HasSubstr("history.jsonl"));
}

TEST(Cli, RunWritesEveryOutputAndExitsZeroWhenValid) {
  testing::TempDir out;
  Output o = Ithappens("run " + Smoke() + " --out " + out.path().string() + " --self-check");
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("determinism self-check"), std::string::npos);
  for (const char* f :
       {"history.jsonl", "report.json", "junit.xml", "summary.md", "report.html", "command.txt"}) {
    EXPECT_TRUE(std::filesystem::exists(out.path() / "smoke" / f)) << f;
  }
  auto report = nlohmann::json::parse(std::ifstream(out.path() / "smoke" / "report.json"));
  EXPECT_EQ(report["verdict"], "valid");
  EXPECT_EQ(report["properties"].size(), StandardCheckers().size());
  Output check = Ithappens("check " + (out.path() / "smoke" / "history.jsonl").string());
  EXPECT_EQ(check.code, 0) << check.text;
}

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Cli, HtmlReportPlotsStatesAndFaultsAndRerendersFromReportJson) {
  testing::TempDir out;
  ASSERT_EQ(Ithappens("run " + Smoke() + " --out " + out.path().string()).code, 0);
  auto dir = out.path() / "smoke";
  std::string html = Slurp(dir / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("worker-crash worker-0"), std::string::npos) << "a lane per fault";
  EXPECT_NE(html.find(">completed</text>"), std::string::npos) << "a line per state";
  std::filesystem::remove(dir / "report.html");
  Output again = Ithappens("report " + dir.string());
  ASSERT_EQ(again.code, 0) << again.text;
  EXPECT_EQ(Slurp(dir / "report.html"), html) << "report.json alone renders the same page";
  Output bad = Ithappens("report " + out.path().string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.text.find("report.json: cannot read"), std::string::npos) << bad.text;
}

// A counterexample says why: when (scenario seconds), which faults were open, its task's
// own events in order (the ones it names among them), and the history lines; the report
// has the attribution matrix; all of it survives `ithappens report`.
TEST(Cli, ACounterexampleComesWithItsTimeFaultsAndTaskEvents) {
  testing::TempDir out;
  std::string file = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/queue-rules.yaml";
  Output o = Ithappens("run " + file + " --out " + out.path().string() +
                       " --engine-bug claim-lowest-first");
  ASSERT_EQ(o.code, 1) << o.text;
  auto dir = out.path() / "queue-rules";
  auto report = nlohmann::json::parse(std::ifstream(dir / "report.json"));
  const nlohmann::json* ce = nullptr;
  for (const auto& p : report["properties"])
    if (p["checker"] == "task-model" && !p["counterexamples"].empty())
      ce = &p["counterexamples"][0];
  ASSERT_NE(ce, nullptr);
  EXPECT_GT((*ce)["t_s"].get<double>(), 0);
  ASSERT_FALSE((*ce)["timeline"].empty());
  std::set<int64_t> rows;
  for (const auto& row : (*ce)["timeline"]) rows.insert(row["i"].get<int64_t>());
  EXPECT_TRUE(rows.count((*ce)["events"].back().get<int64_t>()))
      << "the violating event is among the task's own events";
  EXPECT_TRUE((*ce)["faults_open"].is_array());
  EXPECT_EQ(report["attribution"]["completed"]["completed"].is_number(), true);
  std::string md = Slurp(dir / "summary.md");
  EXPECT_NE(md.find("## Attribution"), std::string::npos);
  EXPECT_NE(md.find("history.jsonl lines"), std::string::npos);
  std::string html = Slurp(dir / "report.html");
  EXPECT_NE(html.find("the task's events in order"), std::string::npos);
  std::filesystem::remove(dir / "report.html");
  ASSERT_EQ(Ithappens("report " + dir.string()).code, 0);
  EXPECT_EQ(Slurp(dir / "report.html"), html);
}

// Nothing to judge is never valid: an empty history is unknown, exit 3, with the reason.
TEST(Cli, AnEmptyHistoryIsUnknownNotValid) {
  testing::TempDir out;
  std::ofstream(out.path() / "empty.jsonl");
  Output o = Ithappens("check " + (out.path() / "empty.jsonl").string());
  EXPECT_EQ(o.code, 3) << o.text;
  EXPECT_NE(o.text.find("unknown"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("nothing to judge"), std::string::npos) << o.text;
}

// A fault window that met no task and no request is said to prove nothing.
TEST(Cli, AFaultThatTouchedNothingIsFlagged) {
  testing::TempDir out;
  std::ofstream(out.path() / "idle.yaml")
      << "name: idle\nworkload:\n  - kind: batch\n    tasks: 2\n    program: [{exit: 0}]\n"
         "faults:\n  - {kind: fsync-error, at_s: 600, duration_s: 3600}\n";
  Output o =
      Ithappens("run " + (out.path() / "idle.yaml").string() + " --out " + out.path().string());
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("touched nothing"), std::string::npos) << o.text;
  EXPECT_NE(Slurp(out.path() / "idle" / "summary.md").find("touched nothing"), std::string::npos);
}

TEST(Cli, TheReportNamesEachRootCauseOnce) {
  testing::TempDir out;
  std::string file = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/invoice-workflow.yaml";
  Output o = Ithappens("run " + file + " --out " + out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  auto report =
      nlohmann::json::parse(std::ifstream(out.path() / "invoice-workflow" / "report.json"));
  const auto& roots = report["root_causes"];
  ASSERT_EQ(roots.size(), 7u) << "five failing chain roots, two failing fan-out roots";
  std::set<std::string> seen;
  std::multiset<int64_t> blocked;
  for (const auto& r : roots) {
    blocked.insert(r["blocked"].get<int64_t>());
    EXPECT_TRUE(seen.insert(r["task"].get<std::string>()).second) << "named once";
  }
  EXPECT_EQ(blocked.count(2), 5u) << "a chain root blocks its two downstream steps";
  EXPECT_EQ(blocked.count(7), 2u) << "a fan-out root blocks 6 invoices and the send";
  EXPECT_NE(o.text.find("kept 2 task(s) from running"), std::string::npos);
}

TEST(Cli, ViolationExitsOneAndPrintsTheReproduceCommand) {
  testing::TempDir out;
  Output o =
      Ithappens("run " + Smoke() + " --out " + out.path().string() + " --engine-bug no-fencing");
  EXPECT_EQ(o.code, 1) << o.text;
  EXPECT_NE(o.text.find("FAILED  single-completion"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("reproduce: ithappens run"), std::string::npos);
  EXPECT_NE(o.text.find("--engine-bug no-fencing"), std::string::npos);
  EXPECT_NE(o.text.find("--seed 7 --load 1x --out"), std::string::npos)
      << "the command as a user would type it";
  Output check = Ithappens("check " + (out.path() / "smoke" / "history.jsonl").string());
  EXPECT_EQ(check.code, 1) << "the recorded history judges the same";
}

TEST(Cli, BadInputExitsTwoNamingTheProblem) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "typo.yaml")
      << "name: t\nworkload:\n  - kind: batch\n    taks: 3\n    program: [{exit: 0}]\n";
  Output o =
      Ithappens("run " + (dir.path() / "typo.yaml").string() + " --out " + dir.path().string());
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("typo.yaml:4: workload[0].taks: unknown key"), std::string::npos) << o.text;
  o = Ithappens("run " + Smoke() + " --load 0x --out " + dir.path().string());
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("--load"), std::string::npos);
  o = Ithappens("run " + Smoke() + " --engine-bug no-fencin --out " + dir.path().string());
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("no-fencing"), std::string::npos) << "lists the known switches";
  std::ofstream(dir.path() / "bad.jsonl") << "{\"i\":0}\n";
  o = Ithappens("check " + (dir.path() / "bad.jsonl").string());
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("bad.jsonl:1: missing field 't_ns'"), std::string::npos) << o.text;
}

// The environment's faults are exit 3 with the cause, never an abort (exit 134): an --out
// that cannot be created (under a file, under /proc).
TEST(Cli, AnUnwritableOutIsExitThreeWithTheCause) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  Output o = Ithappens("run " + Smoke() + " --out " + (dir.path() / "file" / "out").string());
  EXPECT_EQ(o.code, 3) << o.text;
  EXPECT_NE(o.text.find("cannot create the output directory"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("Not a directory"), std::string::npos) << o.text;
  o = Ithappens("bench " + Smoke() + " --loads 1 --out /proc/ithappens-nope");
  EXPECT_EQ(o.code, 3) << o.text;
  EXPECT_NE(o.text.find("/proc/ithappens-nope"), std::string::npos) << o.text;
}

// Out of memory is the environment's (or our) failure, exit 3 with the cause, never an
// abort: a run within the bounds, under an address-space limit too small for it.
TEST(Cli, OutOfMemoryIsExitThreeWithTheCause) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "big.yaml")
      << "name: big\nworkload:\n  - kind: batch\n    tasks: 1000000\n    program: [{exit: 0}]\n";
  const std::string cmd = "ulimit -v 400000 && exec " + std::string(ITHAPPENS_BIN_DIR) +
                          "/ithappens run " + (dir.path() / "big.yaml").string() + " --out " +
                          dir.path().string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) text.append(buf.data(), n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal: " << text;
  EXPECT_EQ(WEXITSTATUS(status), 3) << text;
  EXPECT_NE(text.find("out of memory"), std::string::npos) << text;
}

// Each field is bounded, and so is the whole run: a scenario that fits at 1x is refused at
// 10x before anything is planned, with the computed total and the bound (exit 2, at once:
// the run would otherwise go on until bad_alloc).
TEST(Cli, ARunOverTheWholeRunBoundIsRefusedUpFrontWithItsTotal) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "big.yaml")
      << "name: big\nworkload:\n  - kind: batch\n    tasks: 1000000\n    program: [{exit: 0}]\n";
  Output o = Ithappens("run " + (dir.path() / "big.yaml").string() + " --load 10x --out " +
                       dir.path().string());
  EXPECT_EQ(o.code, 2) << o.text;
  EXPECT_NE(o.text.find("big.yaml: at --load 10x the run plans tasks: 10000000, over the bound "
                        "of 2000000"),
            std::string::npos)
      << o.text;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "big")) << "refused before anything ran";
  std::ofstream(dir.path() / "rate.yaml") << "name: rate\nworkload:\n  - kind: rate\n"
                                             "    per_s: 1000000\n    until_s: 2592000\n"
                                             "    program: [{exit: 0}]\n";
  o = Ithappens("bench " + (dir.path() / "rate.yaml").string() + " --loads 1 --out " +
                dir.path().string());
  EXPECT_EQ(o.code, 2) << o.text;
  EXPECT_NE(o.text.find("plans tasks: 2592000000000"), std::string::npos) << o.text;
}

// Real mode, first version: the real engine, workers and sink under real faults (SIGKILL,
// SIGSTOP, proxies, libfiu, the engine's clock), judged by the same checkers, every fault
// event carrying its proof; a user failure retried by the engine is caught as in sim; what
// real mode does not do yet is refused with exit 2; nothing is left running.
TEST(Cli, RealModeRunsTheRealProcessesAndTheSameCheckersJudgeThem) {
  testing::TempDir out;
  const std::string scenario = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/real-smoke.yaml";
  Output o = Ithappens("run " + scenario + " --mode real --time-scale 20 --out " +
                       out.path().string());
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("real-smoke: valid (real, time scale 20"), std::string::npos) << o.text;
  for (const char* f : {"history.jsonl", "report.json", "logs/engine.log", "logs/worker-0.log",
                        "logs/sink.log"}) {
    EXPECT_TRUE(std::filesystem::exists(out.path() / "real-smoke" / f)) << f;
  }
  auto report = nlohmann::json::parse(std::ifstream(out.path() / "real-smoke" / "report.json"));
  EXPECT_EQ(report["mode"], "real");
  std::ifstream history(out.path() / "real-smoke" / "history.jsonl");
  std::set<std::string> proven;
  for (std::string line; std::getline(history, line);) {
    auto e = nlohmann::json::parse(line);
    if (e["type"] != "fault") continue;
    EXPECT_FALSE(e.contains("error")) << line;
    EXPECT_TRUE(e["value"].contains("proof")) << line;
    proven.insert(e["f"].get<std::string>());
  }
  for (const char* kind : {"worker-crash", "partition", "worker-pause", "engine-crash",
                           "response-loss", "fsync-error", "clock-jump"}) {
    EXPECT_TRUE(proven.count(std::string(kind) + "-start") && proven.count(std::string(kind) + "-stop"))
        << kind;
  }
  EXPECT_NE(Slurp(out.path() / "real-smoke" / "logs" / "engine.log").find("clock offset"),
            std::string::npos)
      << "the engine logged its clock jump";
  o = Ithappens("run " + scenario + " --mode real --time-scale 20 --engine-bug retry-user-failures" +
                " --out " + out.path().string());
  EXPECT_EQ(o.code, 1) << o.text;
  EXPECT_NE(o.text.find("FAILED  attribution"), std::string::npos) << o.text;
  // The violation's ending leaves nothing either.
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
  EXPECT_THAT(LeakedCgroups(), ::testing::IsEmpty());
  EXPECT_FALSE(PortAccepts(EnginePort(out.path() / "real-smoke")));
  o = Ithappens("run " + std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/queue-rules.yaml" +
                " --mode real --out " + out.path().string());
  EXPECT_EQ(o.code, 2) << o.text;
  EXPECT_NE(o.text.find("late_calls: not in real mode yet"), std::string::npos) << o.text;
}

// The CI smoke scenario runs in real mode at its own time scale (real.time_scale), and its
// history holds a proven fault event for each edge of every kind it names, the leak's OOM
// kill among them. A pass leaves no process and no listening port.
TEST(Cli, RealSmokeProvesEveryFaultItNamesAndLeavesNothing) {
  testing::TempDir out;
  Output o = Ithappens("run " + Smoke() + " --mode real --out " + out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("smoke: valid (real, time scale 10,"), std::string::npos) << o.text;
  std::map<std::string, int> proven;
  std::ifstream history(out.path() / "smoke" / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    auto e = nlohmann::json::parse(line);
    if (e["type"] != "fault") continue;
    EXPECT_FALSE(e.contains("error")) << line;
    EXPECT_TRUE(e["value"].contains("proof")) << line;
    proven[e["f"].get<std::string>()]++;
  }
  auto scenario = LoadScenario(Smoke());
  ASSERT_TRUE(scenario.ok());
  for (const FaultSpec& f : scenario->faults) {
    EXPECT_EQ(proven[std::string(Name(f.kind)) + "-start"], 1) << Name(f.kind);
    EXPECT_EQ(proven[std::string(Name(f.kind)) + "-stop"], 1) << Name(f.kind);
  }
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
  EXPECT_FALSE(PortAccepts(EnginePort(out.path() / "smoke")));
}

// The real-mode suite (CI runs it here): every scenario with a `real:` section but the two
// smoke runs above passes in real mode at its own time scale, and its report shows each
// operation's throughput and latency in wall units with "real, time scale K".
TEST(Cli, RealSuitePassesAndReportsThroughputAndLatency) {
  testing::TempDir out;
  int ran = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios")) {
    auto s = LoadScenario(entry.path().string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    // Smoke and real-smoke have their own tests, and power-cuts (Cli.PowerCuts...).
    if (s->real_time_scale == 0 || s->name == "smoke" || s->name == "real-smoke" ||
        s->name == "power-cuts")
      continue;
    ++ran;
    Output o = Ithappens("run " + entry.path().string() + " --mode real --out " +
                         out.path().string());
    EXPECT_EQ(o.code, 0) << o.text;
    const auto dir = out.path() / s->name;
    auto report = nlohmann::json::parse(std::ifstream(dir / "report.json"));
    EXPECT_EQ(report["throughput"]["time_scale"].get<double>(), s->real_time_scale);
    std::set<std::string> ops;
    for (const auto& op : report["throughput"]["ops"]) {
      ops.insert(op["op"].get<std::string>());
      EXPECT_GT(op["calls"].get<int64_t>(), 0) << op;
      EXPECT_LE(op["p50_ms"].get<double>(), op["p99_ms"].get<double>()) << op;
      EXPECT_EQ(op["per_s_t"].size(), report["throughput"]["t_s"].size()) << op;
    }
    // Tasks come from the clients' creates, or from the engine's hooks the clients made.
    EXPECT_TRUE((ops.count("create") || ops.count("create-hook")) && ops.count("claim") &&
                ops.count("report-completed"))
        << s->name << ": " << report["throughput"]["ops"].dump();
    EXPECT_NE(Slurp(dir / "report.html").find("Throughput and latency (real, time scale"),
              std::string::npos);
    EXPECT_NE(Slurp(dir / "summary.md").find("real, time scale"), std::string::npos);
    // Memory: every process sampled, under a limit the run names.
    const auto& memory = report["memory"];
    EXPECT_EQ(memory["mechanism"], "cgroup-v1") << "this machine kind has the v1 memory cgroup";
    EXPECT_GT(memory["t_s"].size(), 4u);
    std::set<std::string> sampled;
    for (const auto& p : memory["rss"]) {
      sampled.insert(p["proc"].get<std::string>());
      EXPECT_EQ(p["mb"].size(), memory["t_s"].size());
    }
    EXPECT_TRUE(sampled.count("engine") && sampled.count("sink") && sampled.count("worker-0"))
        << memory["rss"].dump().substr(0, 300);
    if (s->name == "friday-batch") {
      // The story's leaking provider: its resident set rises until the kernel kills it.
      for (const auto& p : memory["rss"]) {
        if (p["proc"] == "sink") {
          EXPECT_TRUE(p["growing"].get<bool>()) << p.dump().substr(0, 300);
          EXPECT_GT(p["oom_kills"].get<int>(), 0);
          EXPECT_GT(p["peak_mb"].get<double>(), 200.0) << "it reached its 256 MiB limit";
        } else if (p["proc"] == "engine") {
          EXPECT_FALSE(p["growing"].get<bool>()) << p.dump().substr(0, 300);
        }
      }
      const std::string html = Slurp(dir / "report.html");
      EXPECT_NE(html.find("Limits enforced by <b>cgroup-v1</b>"), std::string::npos);
      EXPECT_NE(html.find("OOM kill of sink"), std::string::npos);
    }
    if (s->name == "batchapi-it-happens") {
      // real.fsync_error powerfs: its fsync errors are the file system's EIO, proven by the
      // fsyncs it failed; and the power went twice.
      int fsync_windows = 0, cuts = 0;
      std::ifstream history(dir / "history.jsonl");
      for (std::string line; std::getline(history, line);) {
        const auto e = nlohmann::json::parse(line);
        if (e.value("f", "") == "power-cut-start") ++cuts;
        if (e.value("f", "") != "fsync-error-stop") continue;
        ++fsync_windows;
        EXPECT_EQ(e["value"]["proof"]["mechanism"], "powerfs-fsyncgate") << line;
        EXPECT_GT(e["value"]["proof"]["fires"].get<int64_t>(), 0) << line;
      }
      EXPECT_EQ(fsync_windows, 2);
      EXPECT_EQ(cuts, 2);
    }
    EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
    EXPECT_THAT(LeakedCgroups(), ::testing::IsEmpty());
  }
  EXPECT_GE(ran, 3) << "the stories that run in real mode";
}

// As many workers as the scenario names: 16 real workers, each with its own proxy, log and
// op log, share the work under a crash and a partition, and the run is judged valid.
TEST(Cli, RealModeRunsSixteenWorkers) {
  testing::TempDir out;
  std::ofstream(out.path() / "sixteen.yaml")
      << "name: sixteen\nworkers: 16\ncapacity: 2\nclaim_timeout_ms: 20000\nheal_s: 600\n"
         "workload:\n  - kind: batch\n    tasks: 160\n    program:\n      - sleep_ms: 2000\n"
         "      - effect: {channel: sms, to: \"p-{i}\"}\n      - exit: 0\n"
         "faults:\n  - {kind: worker-crash, target: worker-3, at_s: 3, duration_s: 30}\n"
         "  - {kind: partition, target: worker-12, at_s: 5, duration_s: 30}\n";
  Output o = Ithappens("run " + (out.path() / "sixteen.yaml").string() +
                       " --mode real --time-scale 10 --out " + out.path().string());
  EXPECT_EQ(o.code, 0) << o.text;
  std::map<std::string, int> claims_by_worker;
  std::ifstream history(out.path() / "sixteen" / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    auto e = nlohmann::json::parse(line);
    if (e["type"] == "ok" && e["f"] == "claim" && !e["value"]["runs"].empty())
      claims_by_worker[e["proc"].get<std::string>()]++;
  }
  for (int w = 0; w < 16; ++w) {
    const std::string name = "worker-" + std::to_string(w);
    EXPECT_TRUE(std::filesystem::exists(out.path() / "sixteen" / "logs" / (name + ".log"))) << name;
    EXPECT_GT(claims_by_worker[name], 0) << name << " never got work";
  }
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
}

// `bench --mode real` runs the real processes at each load and writes the scaling table:
// calls per second, latency per operation, peak RSS of every process, the drain time and
// the verdict per load (the figures are not asserted: the machine is shared).
TEST(Cli, BenchInRealModeMeasuresEachLoadAgainstTheRealProcesses) {
  testing::TempDir out;
  const std::string scenario = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/real-smoke.yaml";
  Output o = Ithappens("bench " + scenario + " --mode real --loads 1,2 --out " +
                       out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  auto bench = nlohmann::json::parse(std::ifstream(out.path() / "real-smoke" / "bench.json"));
  EXPECT_EQ(bench["mode"], "real");
  EXPECT_EQ(bench["time_scale"].get<double>(), 20.0);
  ASSERT_EQ(bench["rows"].size(), 2u);
  EXPECT_GE(bench["rows"][1]["tasks"].get<int64_t>(), 2 * bench["rows"][0]["tasks"].get<int64_t>() - 2);
  for (const auto& row : bench["rows"]) {
    EXPECT_EQ(row["verdict"], "valid") << row;
    EXPECT_GT(row["calls_per_s"].get<double>(), 0);
    EXPECT_GE(row["drain_wall_s"].get<double>(), 0) << "the run drained before its horizon";
    for (const char* proc : {"engine", "sink", "worker-0", "worker-1", "worker-2"})
      EXPECT_GT(row["peak_rss_bytes"].value(proc, int64_t{0}), 1'000'000) << proc;
    for (const char* op : {"create", "claim", "report-completed"})
      EXPECT_TRUE(row["ops"].contains(op)) << op;
  }
  EXPECT_NE(Slurp(out.path() / "real-smoke" / "bench.html").find("at multiplied load (real"),
            std::string::npos);
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
}

// A harness error (a scheduled fault that did not fire: fsyncs fail in a window where
// nothing writes) is exit 3, names the fault, and leaves nothing behind.
TEST(Cli, RealModeHarnessErrorIsExitThreeAndLeavesNothing) {
  testing::TempDir out;
  std::ofstream(out.path() / "idle.yaml")
      << "name: idle\nworkers: 1\nheal_s: 5\nworkload:\n  - kind: batch\n    tasks: 2\n"
         "    program: [{exit: 0}]\nfaults:\n  - {kind: fsync-error, at_s: 40, duration_s: 2}\n";
  Output o = Ithappens("run " + (out.path() / "idle.yaml").string() +
                       " --mode real --time-scale 20 --out " + out.path().string());
  EXPECT_EQ(o.code, 3) << o.text;
  EXPECT_NE(o.text.find("did not fire"), std::string::npos) << o.text;
  EXPECT_NE(Slurp(out.path() / "idle" / "history.jsonl").find("fsync-error was armed"),
            std::string::npos);
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
  EXPECT_THAT(LeakedCgroups(), ::testing::IsEmpty());
  EXPECT_FALSE(PortAccepts(EnginePort(out.path() / "idle")));
}

// SIGINT or SIGTERM to `ithappens` mid-run: it tears the run down and ends by that signal,
// leaving no engine, worker or sink process and no listening port (its proxies are its
// own threads).
// Starts `ithappens run scenario --mode real --out out` in its own process group, its
// output in out/<log>, and waits until the run is mid-way: its worker-2 wrote its first
// call. Answers the pid (the caller signals and reaps it).
pid_t StartRealRunAndAwaitWorkers(const std::string& scenario, const std::string& name,
                                  const std::filesystem::path& out, const std::string& log) {
  const std::string bin = std::string(ITHAPPENS_BIN_DIR) + "/ithappens";
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int fd = open((out / log).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(bin.c_str(), bin.c_str(), "run", scenario.c_str(), "--mode", "real", "--out",
          out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto started = out / name / "real" / "worker-2.jsonl";
  for (int i = 0; pid > 0 && i < 600 && !(std::filesystem::exists(started) &&
                                          std::filesystem::file_size(started) > 0);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pid;
}

TEST(Cli, RealModeSigintAndSigtermMidRunLeaveNothing) {
  for (int sig : {SIGINT, SIGTERM}) {
    testing::TempDir out;
    const std::string log = (out.path() / "out.txt").string();
    const pid_t pid = StartRealRunAndAwaitWorkers(Smoke(), "smoke", out.path(), "out.txt");
    ASSERT_GT(pid, 0);
    const auto started = out.path() / "smoke" / "real" / "worker-2.jsonl";
    ASSERT_TRUE(std::filesystem::exists(started)) << Slurp(log);
    const int port = EnginePort(out.path() / "smoke");
    ASSERT_TRUE(PortAccepts(port)) << "the engine serves mid-run";
    ASSERT_EQ(kill(pid, sig), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status << " " << Slurp(log);
    EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty()) << strsignal(sig);
    EXPECT_FALSE(PortAccepts(port)) << strsignal(sig);
    EXPECT_THAT(LeakedCgroups(), ::testing::IsEmpty()) << strsignal(sig);
  }
}

// Whether something is mounted at this path (/proc/self/mountinfo).
bool Mounted(const std::filesystem::path& path) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);)
    if (line.find(" " + path.string() + " ") != std::string::npos) return true;
  return false;
}

// Issue 11's power cuts, for real: twenty cuts under load on the power-cut file system
// lose nothing on the correct engine, each cut proven (the engine killed, what the file
// system dropped); the fsync-off bug switch (SQLite synchronous=OFF) loses acknowledged
// tasks at a cut (no-lost), and the same schedule with plain SIGKILLs (engine-crash) does
// not show it — the page cache outlives a process. No mount or process remains after any
// of them, nor after a SIGINT mid-run.
TEST(Cli, PowerCutsCatchFsyncOffWhereSigkillsDoNot) {
  const std::string scenario = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/power-cuts.yaml";
  testing::TempDir out;
  const auto data = out.path() / "power-cuts" / "real" / "data";
  Output ok = Ithappens("run " + scenario + " --mode real --out " + out.path().string());
  ASSERT_EQ(ok.code, 0) << ok.text;
  int cuts = 0;
  int64_t dropped = 0;
  std::ifstream history(out.path() / "power-cuts" / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    const auto e = nlohmann::json::parse(line);
    if (e.value("f", "") != "power-cut-start") continue;
    ++cuts;
    const auto& proof = e["value"]["proof"];
    EXPECT_EQ(proof.value("ended", ""), "killed by signal 9 (Killed)") << line;
    ASSERT_TRUE(proof.contains("bytes_dropped")) << line;
    dropped += proof["bytes_dropped"].get<int64_t>();
  }
  EXPECT_EQ(cuts, 20);
  EXPECT_GT(dropped, 0) << "the cuts dropped what the engine had not synced (its -shm at least)";
  EXPECT_FALSE(Mounted(data));
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());

  Output bug = Ithappens("run " + scenario + " --mode real --engine-bug fsync-off --out " +
                         out.path().string());
  EXPECT_EQ(bug.code, 1) << bug.text;
  EXPECT_NE(bug.text.find("FAILED  no-lost"), std::string::npos) << bug.text;
  EXPECT_FALSE(Mounted(data));

  std::string text = Slurp(scenario);
  for (size_t at; (at = text.find("kind: power-cut")) != std::string::npos;)
    text.replace(at, 15, "kind: engine-crash");
  const auto sigkills = out.path() / "sigkills.yaml";
  std::ofstream(sigkills) << text;
  Output killed = Ithappens("run " + sigkills.string() + " --mode real --engine-bug fsync-off " +
                            "--out " + out.path().string());
  EXPECT_EQ(killed.code, 0) << "a SIGKILL keeps what the OS has: " << killed.text;

  // Without FUSE the fault is refused, never faked: exit 2 naming what is missing.
  Output refused = IthappensWithEnv("ITHAPPENS_FUSE_DEVICE=/dev/no-fuse-here",
                                 "run " + scenario + " --mode real --out " + out.path().string());
  EXPECT_EQ(refused.code, 2) << refused.text;
  EXPECT_NE(refused.text.find("faults[0].kind power-cut: cannot cut the power here: "
                              "/dev/no-fuse-here: No such file or directory"),
            std::string::npos)
      << refused.text;

  // SIGINT while the file system is mounted (in a directory of its own: the runs above
  // left their records).
  testing::TempDir out2;
  const auto data2 = out2.path() / "power-cuts" / "real" / "data";
  const pid_t pid =
      StartRealRunAndAwaitWorkers(scenario, "power-cuts", out2.path(), "sigint.txt");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(Mounted(data2)) << "mounted mid-run";
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  for (int i = 0; i < 100 && Mounted(data2); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(Mounted(data2)) << "the SIGINT teardown detaches it (and fusermount3 when its "
                                  "process dies)";
  EXPECT_THAT(ProcessesLeft(out2.path()), ::testing::IsEmpty());
  EXPECT_THAT(LeakedCgroups(), ::testing::IsEmpty()) << "SIGINT removes the run's cgroups";
}

// Issue 11's user memory vs platform memory, for real: a program past its own budget is
// the user's failure (failed, never retried); a poison pill (more than a worker's 128 MiB
// cgroup) gets its worker OOM-killed by the kernel at every run and ends as the platform's
// exception once its retries are spent — no endless crash loop; the report lists each
// kill and when the worker was back at work. With blame-user-for-platform the pills end
// `failed`, and attribution says so.
TEST(Cli, PoisonPillEndsAfterItsRetriesAsThePlatformsException) {
  const std::string scenario = std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/poison-pill.yaml";
  testing::TempDir out;
  Output o = Ithappens("run " + scenario + " --mode real --out " + out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  const auto dir = out.path() / "poison-pill";
  auto report = nlohmann::json::parse(std::ifstream(dir / "report.json"));
  EXPECT_EQ(report["attribution"]["exception"]["exception"], 2) << report["attribution"];
  EXPECT_EQ(report["attribution"]["failed"]["failed"], 5) << report["attribution"];
  int kills = 0;
  std::ifstream history(dir / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    const auto e = nlohmann::json::parse(line);
    if (e.value("f", "") != "worker-oom") continue;
    ++kills;
    EXPECT_EQ(e["value"]["proof"]["ended"], "killed by signal 9 (Killed)") << line;
    EXPECT_EQ(e["value"]["proof"]["limit"], "cgroup-v1") << line;
  }
  // Each pill runs 3 times (retries 2); two runs may share a worker's death.
  EXPECT_GE(kills, 3);
  EXPECT_LE(kills, 6) << "no crash loop: the pills' runs end with their retries";
  EXPECT_EQ(report["memory"]["oom_kills"].size(), static_cast<size_t>(kills));
  EXPECT_NE(Slurp(dir / "report.html").find("OOM kills and recovery"), std::string::npos);
  EXPECT_THAT(ProcessesLeft(out.path()), ::testing::IsEmpty());
  EXPECT_THAT(LeakedCgroups(), ::testing::IsEmpty());

  Output bug = Ithappens("run " + scenario + " --mode real --engine-bug blame-user-for-platform" +
                         " --out " + out.path().string());
  EXPECT_EQ(bug.code, 1) << bug.text;
  EXPECT_NE(bug.text.find("FAILED  attribution"), std::string::npos) << bug.text;
}

// `ithappens bench` runs the scenario at each load and writes what it measured; the
// figures themselves are never asserted (the machine is shared), only their shape.
TEST(Cli, BenchRunsEachLoadAndWritesTheTable) {
  testing::TempDir out;
  Output o = Ithappens("bench " + Smoke() + " --loads 1,2x --out " + out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  auto bench = nlohmann::json::parse(std::ifstream(out.path() / "smoke" / "bench.json"));
  ASSERT_EQ(bench["rows"].size(), 2u);
  EXPECT_EQ(bench["rows"][0]["load"], 1.0);
  EXPECT_EQ(bench["rows"][1]["load"], 2.0);
  EXPECT_GE(bench["rows"][1]["tasks"].get<int64_t>(),
            2 * bench["rows"][0]["tasks"].get<int64_t>() - 2)
      << "the load multiplies the workload";
  for (const auto& row : bench["rows"]) {
    EXPECT_EQ(row["verdict"], "valid");
    EXPECT_GT(row["lifecycles_per_s"].get<double>(), 0);
    EXPECT_GT(row["checked_events_per_s"].get<double>(), 0);
  }
  EXPECT_NE(o.text.find("     2x "), std::string::npos) << o.text;
  EXPECT_FALSE(std::filesystem::exists(out.path() / "smoke" / "bench-1x.jsonl"))
      << "the histories of a bench are not kept";
  Output bad = Ithappens("bench " + Smoke() + " --loads 1,0x");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.text.find("--loads: 0x is outside (0, 1000]x"), std::string::npos) << bad.text;
}

// The simulator's heap (harness/sim/heap.h): `ithappens` re-executes itself with glibc's
// huge-page tunables where the machine has transparent huge pages, leaves a user's own
// GLIBC_TUNABLES alone, and ITHAPPENS_HUGE_PAGES=0 turns it off. The heap never changes a
// history: the same seed writes the same bytes either way.
TEST(Cli, TheHeapUsesHugePagesWhereTheMachineHasThemAndNeverChangesAHistory) {
  std::string thp;
  {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::getline(in, thp);
  }
  const bool machine_has_thp =
      thp.find("[always]") != std::string::npos || thp.find("[madvise]") != std::string::npos;
  auto bench_of = [&](const std::string& env, const testing::TempDir& out) {
    Output o = IthappensWithEnv(env, "bench " + Smoke() + " --loads 1 --repeat 2 --out " +
                                         out.path().string());
    EXPECT_EQ(o.code, 0) << o.text;
    return nlohmann::json::parse(std::ifstream(out.path() / "smoke" / "bench.json"));
  };
  testing::TempDir a, b, c;
  const auto on = bench_of("", a), off = bench_of("ITHAPPENS_HUGE_PAGES=0", b),
             user = bench_of("GLIBC_TUNABLES=glibc.malloc.perturb=0", c);
  const std::string mode = on["heap"];
  if (machine_has_thp) {
    EXPECT_EQ(mode,
              "transparent huge pages (glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864:"
              "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456)");
  } else {
    EXPECT_EQ(mode.rfind("4 KiB pages (transparent huge pages are ", 0), 0u) << mode;
  }
  EXPECT_EQ(off["heap"], "4 KiB pages (ITHAPPENS_HUGE_PAGES=0)");
  EXPECT_EQ(user["heap"], "as GLIBC_TUNABLES sets it (glibc.malloc.perturb=0)");
  EXPECT_EQ(on["rows"][0]["history_hash"], off["rows"][0]["history_hash"]);
  EXPECT_EQ(on["rows"][0]["history_hash"], user["rows"][0]["history_hash"]);
  EXPECT_EQ(on["rows"][0]["events"], off["rows"][0]["events"]);
}

// Each load is measured in rounds (every load in turn, each run in a fresh child process)
// and keeps its fastest; every round of a load must have written the same history.
TEST(Cli, BenchKeepsTheFastestOfItsRoundsAndChecksTheyWroteOneHistory) {
  testing::TempDir out;
  Output o = Ithappens("bench " + Smoke() + " --loads 1,2 --repeat 2 --out " + out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("the fastest of 2 rounds per load"), std::string::npos) << o.text;
  auto bench = nlohmann::json::parse(std::ifstream(out.path() / "smoke" / "bench.json"));
  EXPECT_EQ(bench["repeat"], 2);
  EXPECT_NE(bench["command"].get<std::string>().find("--repeat 2"), std::string::npos);
  ASSERT_EQ(bench["rows"].size(), 2u);
  for (const auto& row : bench["rows"]) {
    const auto rounds = row["sim_wall_s_rounds"].get<std::vector<double>>();
    ASSERT_EQ(rounds.size(), 2u);
    EXPECT_EQ(row["sim_wall_s"].get<double>(), *std::min_element(rounds.begin(), rounds.end()));
    EXPECT_EQ(row["sim_wall_spread"].get<double>(),
              *std::max_element(rounds.begin(), rounds.end()) / row["sim_wall_s"].get<double>());
    EXPECT_EQ(row["check_wall_s_rounds"].size(), 2u);
    EXPECT_EQ(row["history_hash"].get<std::string>().size(), 16u);
    EXPECT_EQ(row["verdict"], "valid");
  }
  EXPECT_NE(bench["rows"][0]["history_hash"], bench["rows"][1]["history_hash"])
      << "another load, another history";
  EXPECT_FALSE(std::filesystem::exists(out.path() / "smoke" / "bench-2x.jsonl"));

  Output zero = Ithappens("bench " + Smoke() + " --repeat 0");
  EXPECT_EQ(zero.code, 2);
  EXPECT_NE(zero.text.find("--repeat"), std::string::npos) << zero.text;
  EXPECT_NE(zero.text.find("not in range 1 to 50"), std::string::npos) << zero.text;
  Output real = Ithappens("bench " + Smoke() + " --mode real --repeat 2");
  EXPECT_EQ(real.code, 2);
  EXPECT_NE(real.text.find("--repeat: sim mode only"), std::string::npos) << real.text;
}

// The simulation's memory: its peak resident set in each load's row (table and
// bench.json), which grows with the tasks it holds.
TEST(Cli, BenchMeasuresTheSimulationsMemoryPerTask) {
  testing::TempDir out;
  Output o =
      Ithappens("bench " + Smoke() + " --loads 1,20 --repeat 1 --out " + out.path().string());
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("sim MB  KB/task"), std::string::npos) << o.text;
  auto bench = nlohmann::json::parse(std::ifstream(out.path() / "smoke" / "bench.json"));
  ASSERT_EQ(bench["rows"].size(), 2u);
  for (const auto& row : bench["rows"]) {
    const int64_t bytes = row["sim_peak_bytes"];
    EXPECT_GT(bytes, 0) << row.dump();
    EXPECT_NEAR(row["sim_peak_kb_per_task"].get<double>(),
                static_cast<double>(bytes) / 1024 / row["tasks"].get<double>(), 1e-6);
  }
  EXPECT_GT(bench["rows"][1]["sim_peak_bytes"].get<int64_t>(),
            bench["rows"][0]["sim_peak_bytes"].get<int64_t>())
      << "twenty times the tasks, more memory";
}

}  // namespace
}  // namespace ithappens::harness
