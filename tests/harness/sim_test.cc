// Proves the simulator is deterministic (same seed: byte-identical history; another seed:
// another history), that the smoke scenario holds every property on the correct engine,
// and that each engine bug switch makes the smoke scenario fail the checker meant for it.
// Also: scenario files with mistakes are refused naming file, line and field.
#include "harness/sim/sim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness/checker.h"
#include "harness/history/byte_channel.h"
#include "harness/scenario/scenario.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::harness {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string SmokePath() { return std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/smoke.yaml"; }

struct SimRun {
  std::vector<CheckResult> results;
  std::string history;
};

SimRun Simulate(const std::string& scenario_path, uint64_t seed, std::string_view bug = "",
                double load = 1.0) {
  auto s = LoadScenario(scenario_path);
  if (!s.ok()) throw std::runtime_error(s.status().ToString());
  testing::TempDir dir;
  SimOptions o{&s.value(), seed, load, {}, (dir.path() / "history.jsonl").string(), {}};
  if (!bug.empty()) {
    auto st = engine::EnableBugSwitch(bug, &o.bugs);
    if (!st.ok()) throw std::runtime_error(st.ToString());
  }
  auto sum = RunSimulation(o);
  if (!sum.ok()) throw std::runtime_error(sum.status().ToString());
  std::string error;
  SimRun r{CheckHistoryFile(o.history_path, &error), Slurp(o.history_path)};
  return r;
}

TEST(Simulator, SameSeedGivesByteIdenticalHistory) {
  SimRun a = Simulate(SmokePath(), 11), b = Simulate(SmokePath(), 11),
         c = Simulate(SmokePath(), 12);
  ASSERT_GT(a.history.size(), 10'000u);
  EXPECT_TRUE(a.history == b.history) << "same seed, different history";
  EXPECT_FALSE(a.history == c.history) << "the seed must matter";
}

// A history the disk did not take is the harness's failure, named with its cause: a run
// whose history lost lines would judge the platform on what the harness's disk dropped.
TEST(Simulator, AHistoryTheDiskRefusesFailsTheRunWithTheCause) {
  auto s = LoadScenario(SmokePath());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  SimOptions o{&s.value(), 11, 1.0, {}, "/dev/full", {}};  // every write: no space left
  auto sum = RunSimulation(o);
  ASSERT_FALSE(sum.ok());
  EXPECT_NE(sum.status().ToString().find("history: /dev/full: writing the history failed"),
            std::string::npos)
      << sum.status().ToString();
  EXPECT_NE(sum.status().ToString().find("No space left on device"), std::string::npos)
      << sum.status().ToString();
}

// The history's bytes through a tee (the reader that judges a run while it is written) are
// the file's, to the last line, and the tee is closed when the run ends.
TEST(Simulator, TheHistorysTeeCarriesTheFilesBytesToTheLastLine) {
  auto s = LoadScenario(SmokePath());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  testing::TempDir dir;
  ByteChannel tee(4096);  // small: the simulator waits for the reader many times
  SimOptions o{&s.value(), 11, 1.0, {}, (dir.path() / "history.jsonl").string(), {}};
  o.history_tee = &tee;
  std::string got;
  std::thread reader([&] {
    char buf[1000];
    while (size_t n = tee.Read(buf, sizeof buf)) got.append(buf, n);
  });
  auto sum = RunSimulation(o);
  reader.join();  // returns only once the run closed the tee
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  const std::string file = Slurp(o.history_path);
  ASSERT_GT(file.size(), 10'000u);
  EXPECT_EQ(got.size(), file.size());
  EXPECT_TRUE(got == file);
}

// Progress reports are for a display: they arrive in order, end with one `done`, and
// change nothing in the run.
TEST(Simulator, ProgressIsReportedInOrderAndChangesNothing) {
  auto s = LoadScenario(std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/friday-batch.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  testing::TempDir dir;
  SimOptions quiet{&s.value(), 5, 5.0, {}, (dir.path() / "quiet.jsonl").string(), {}};
  std::vector<SimProgress> seen;
  SimOptions watched = quiet;
  watched.history_path = (dir.path() / "watched.jsonl").string();
  watched.progress = [&](const SimProgress& p) { seen.push_back(p); };
  auto a = RunSimulation(quiet), b = RunSimulation(watched);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(Slurp(quiet.history_path) == Slurp(watched.history_path));
  ASSERT_GE(seen.size(), 2u) << "a 60k-event run reports along the way";
  // sim_ms is the simulator's virtual time (set by the seed, not the wall clock): reports
  // come in the order the run made them.
  for (size_t k = 1; k < seen.size(); ++k) {
    EXPECT_GE(seen[k].sim_ms, seen[k - 1].sim_ms);
    EXPECT_GE(seen[k].events, seen[k - 1].events);
  }
  EXPECT_TRUE(seen.back().done);
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(), [](const SimProgress& p) { return p.done; }),
            1);
  EXPECT_EQ(seen.back().events, b->events);
}

TEST(Simulator, SmokeHoldsEveryPropertyOnTheCorrectEngine) {
  for (uint64_t seed : {1, 2, 3}) {
    SimRun r = Simulate(SmokePath(), seed);
    for (const auto& c : r.results) {
      EXPECT_EQ(c.valid, Validity::kValid)
          << "seed " << seed << ": " << c.checker << ": "
          << (c.counterexamples.empty() ? c.error : c.counterexamples[0].explanation);
    }
  }
}

TEST(Simulator, LoadMultipliesTheWorkload) {
  SimRun one = Simulate(SmokePath(), 5, "", 1.0), five = Simulate(SmokePath(), 5, "", 5.0);
  auto planned = [](const std::string& h) {
    size_t n = 0;
    for (size_t p = 0; (p = h.find("\"type\":\"plan\"", p)) != std::string::npos; ++p) ++n;
    return n;
  };
  EXPECT_GE(planned(five.history), 4 * planned(one.history));
  EXPECT_EQ(Compose(five.results), Validity::kValid);
}

std::string RemindersPath() {
  return std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/appointment-reminders.yaml";
}

TEST(Simulator, AppointmentRemindersAfterA13HourOutageCallEachPatientOnce) {
  SimRun ok = Simulate(RemindersPath(), 13);
  EXPECT_EQ(Compose(ok.results), Validity::kValid);
  // A non-idempotent create (the story's filler bug) turns the outage into a herd.
  SimRun herd = Simulate(RemindersPath(), 13, "random-task-ids");
  bool herd_caught = false;
  for (const auto& c : herd.results)
    herd_caught |= c.checker == "no-duplicate-effects" && c.valid == Validity::kInvalid;
  EXPECT_TRUE(herd_caught);
}

// The sink-leak fault: the sink dies after sending, before answering. The worker cannot
// know the message went out, so the platform retries the run; only the per-(task, step)
// idempotency key keeps the patient from a second text.
TEST(Simulator, LeakingSinkDiesMidDeliveryAndTheRetryIsDeduplicated) {
  testing::TempDir dir;
  const auto path = dir.path() / "sink-leak.yaml";
  std::ofstream(path) << R"(name: sink-leak
workers: 2
capacity: 4
workload:
  - kind: batch
    tasks: 100
    program:
      - sleep_ms: 1000
      - effect: {channel: sms, to: "patient-{i}"}
      - exit: 0
faults:
  - {kind: sink-leak, at_s: 0, duration_s: 600}
)";
  SimRun ok = Simulate(path.string(), 3);
  EXPECT_EQ(Compose(ok.results), Validity::kValid);
  EXPECT_NE(ok.history.find("\"f\":\"sink-oom\""), std::string::npos) << "the sink never died";
  EXPECT_NE(ok.history.find("\"delivered\":false"), std::string::npos)
      << "no retried delivery reached the sink: the fault tested nothing";
  SimRun twice = Simulate(path.string(), 3, "effect-key-per-run");
  bool caught = false;
  for (const auto& c : twice.results)
    caught |= c.checker == "no-duplicate-effects" && c.valid == Validity::kInvalid;
  EXPECT_TRUE(caught) << "a key per run lets the retry text the patient again";
}

// fsync-error with a probability: each fsync fails by a seeded draw, so in the window some
// creates are acknowledged and some are not (and are retried); with certainty none is.
TEST(Simulator, DiskFaultProbabilityFailsSomeFsyncsBySeededDraws) {
  testing::TempDir dir;
  auto run = [&](const std::string& probability) {
    const auto path = dir.path() / ("p" + probability + ".yaml");
    std::ofstream(path) << "name: p\nworkers: 2\ncapacity: 8\nclients: 4\nworkload:\n"
                           "  - kind: rate\n    per_s: 50\n    until_s: 20\n"
                           "    program: [{exit: 0}]\n"
                           "faults:\n  - {kind: fsync-error, at_s: 5, duration_s: 10"
                        << (probability.empty() ? "" : ", probability: " + probability) << "}\n";
    SimRun r = Simulate(path.string(), 9);
    int ok = 0, not_ok = 0;
    std::istringstream lines(r.history);
    for (std::string line; std::getline(lines, line);) {
      auto e = nlohmann::json::parse(line);
      const int64_t ms = e["t_ns"].get<int64_t>() / 1'000'000;
      if (e["f"] != "create" || ms < 5'100 || ms > 14'900) continue;
      ok += e["type"] == "ok";
      not_ok += e["type"] == "info" || e["type"] == "fail";
    }
    EXPECT_EQ(Compose(r.results), Validity::kValid) << probability;
    return std::make_pair(ok, not_ok);
  };
  auto [ok_some, failed_some] = run("0.3");
  EXPECT_GT(ok_some, 0) << "most fsyncs succeed at 0.3";
  EXPECT_GT(failed_some, 0) << "some fsyncs fail at 0.3";
  auto [ok_all, failed_all] = run("");
  EXPECT_EQ(ok_all, 0) << "by default every fsync in the window fails";
  EXPECT_GT(failed_all, 0);
}

std::string ReminderHooksPath() {
  return std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/reminder-hooks.yaml";
}

// The engine's own cron hooks under a 13-hour drainer outage and an engine crash: every
// owed fire happens (hook-fires), the piled-up reminders end at their deadline. With ids
// that are not a function of (hook, fire time, key), the fires cannot be found.
TEST(Simulator, ReminderHooksFireAsScheduledAndHookFiresCatchesRandomIds) {
  SimRun ok = Simulate(ReminderHooksPath(), 21);
  EXPECT_EQ(Compose(ok.results), Validity::kValid);
  for (const auto& c : ok.results) {
    if (c.checker != "hook-fires") continue;
    EXPECT_GT(c.counts["owed"].get<int64_t>(), 1000) << "the hooks were not exercised";
    EXPECT_GT(c.counts["candidates"].get<int64_t>(), c.counts["owed"].get<int64_t>())
        << "the engine crash must excuse some fires (no catch-up)";
  }
  SimRun bad = Simulate(ReminderHooksPath(), 21, "random-task-ids");
  bool caught = false;
  for (const auto& c : bad.results)
    caught |= c.checker == "hook-fires" && c.valid == Validity::kInvalid;
  EXPECT_TRUE(caught);
}

// Without the reminders' deadline the 13 hours of fires go out at once when the drainer
// is back: the herd guard (at most 4 texts in 10 minutes) must catch it.
TEST(Simulator, ReminderHooksWithoutADeadlineTripTheHerdGuard) {
  std::string yaml = Slurp(ReminderHooksPath());
  const std::string deadline = "deadline_s: 600";
  const size_t at = yaml.find(deadline);
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, deadline.size(), "deadline_s: 172800");
  testing::TempDir dir;
  std::ofstream(dir.path() / "herd.yaml") << yaml;
  SimRun herd = Simulate((dir.path() / "herd.yaml").string(), 21);
  bool caught = false;
  for (const auto& c : herd.results) {
    if (c.checker != "no-duplicate-effects") continue;
    caught = c.valid == Validity::kInvalid && c.counts["herded_recipients"].get<int64_t>() == 50;
    ASSERT_FALSE(c.counterexamples.empty());
    EXPECT_NE(c.counterexamples[0].explanation.find("herd guard allows 4"), std::string::npos);
  }
  EXPECT_TRUE(caught) << "every one of the 50 patients is herded";
}

struct BugCase {
  const char* bug;
  const char* checker;  // the checker that must fail
};

class BugSwitchInSim : public ::testing::TestWithParam<BugCase> {};

TEST_P(BugSwitchInSim, NamedCheckerFails) {
  SimRun r = Simulate(SmokePath(), 7, GetParam().bug);
  bool named_failed = false;
  for (const auto& c : r.results)
    named_failed |= c.checker == GetParam().checker && c.valid == Validity::kInvalid;
  EXPECT_TRUE(named_failed) << GetParam().bug << " was not caught by " << GetParam().checker;
  EXPECT_EQ(Compose(r.results), Validity::kInvalid);
}

INSTANTIATE_TEST_SUITE_P(Smoke, BugSwitchInSim,
                         ::testing::Values(BugCase{"ack-before-commit", "no-lost"},
                                           BugCase{"random-task-ids", "no-duplicate-tasks"},
                                           BugCase{"retry-user-failures", "attribution"},
                                           BugCase{"blame-user-for-platform", "attribution"},
                                           BugCase{"no-fencing", "single-completion"},
                                           BugCase{"effect-key-per-run", "no-duplicate-effects"},
                                           BugCase{"no-claim-expiry", "liveness"},
                                           BugCase{"lose-pending-on-restart", "liveness"},
                                           BugCase{"late-expiry", "task-model"}),
                         [](const auto& info) {
                           std::string n = info.param.bug;
                           for (char& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

// The queue-rules scenario drives the paths of the queue's rules; each realistic bug in
// them must fail it with the checker and the reason meant for it, and the same seed must
// pass on the correct engine (so it is the bug that is caught, not the seed).
std::string QueueRulesPath() {
  return std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/queue-rules.yaml";
}

struct RuleBugCase {
  const char* bug;
  const char* checker;
  const char* reason;  // a part of the first counterexample's explanation
};

class RuleBugInSim : public ::testing::TestWithParam<RuleBugCase> {};

TEST_P(RuleBugInSim, CaughtWithItsReasonAndTheSeedPassesWithoutIt) {
  const RuleBugCase& c = GetParam();
  SimRun bad = Simulate(QueueRulesPath(), 11, c.bug);
  const CheckResult* named = nullptr;
  for (const auto& r : bad.results)
    if (r.checker == c.checker) named = &r;
  ASSERT_NE(named, nullptr);
  ASSERT_EQ(named->valid, Validity::kInvalid) << c.bug << " was not caught by " << c.checker;
  ASSERT_FALSE(named->counterexamples.empty());
  EXPECT_NE(named->counterexamples[0].explanation.find(c.reason), std::string::npos)
      << named->counterexamples[0].explanation;
  EXPECT_FALSE(named->counterexamples[0].events.empty());
  SimRun good = Simulate(QueueRulesPath(), 11);
  EXPECT_EQ(Compose(good.results), Validity::kValid);
}

INSTANTIATE_TEST_SUITE_P(
    QueueRules, RuleBugInSim,
    ::testing::Values(
        RuleBugCase{"reclaim-keeps-lease", "task-model", "a reclaim answered between"},
        RuleBugCase{"retries-off-by-one", "task-model", "automatic retries; the definition allows"},
        RuleBugCase{"lax-conflicts", "task-model", "differs from the stored one"},
        RuleBugCase{"report-not-idempotent", "task-model", "the repeat of an acknowledged report"},
        RuleBugCase{"cancel-ignores-unscheduled", "task-model", "after the task's cancel"},
        RuleBugCase{"no-deadline-when-blocked", "deadline", "past its deadline"},
        RuleBugCase{"requires-ignored", "liveness", "under requires all-resolved"},
        RuleBugCase{"claim-lowest-first", "task-model", "which ranks below it"},
        RuleBugCase{"retries-reset-on-restart", "task-model",
                    "automatic retries; the definition allows"},
        RuleBugCase{"reclaim-ignores-worker", "task-model", "but the run is held by"},
        RuleBugCase{"rerun-unscheduled", "task-model", "while the task was unscheduled"},
        RuleBugCase{"no-fencing", "task-model", "but the run is held by"},
        RuleBugCase{"blame-user-for-platform", "task-model", "no report of that run said so"},
        RuleBugCase{"retry-user-failures", "task-model", "'retry' after failed"}),
    [](const auto& info) {
      std::string n = info.param.bug;
      for (char& ch : n) ch = ch == '-' ? '_' : ch;
      return n;
    });

TEST(QueueRules, ValidOnTheCorrectEngineForSeveralSeeds) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SimRun r = Simulate(QueueRulesPath(), seed);
    for (const auto& c : r.results) {
      EXPECT_EQ(c.valid, Validity::kValid)
          << "seed " << seed << ": " << c.checker
          << (c.counterexamples.empty() ? "" : ": " + c.counterexamples[0].explanation);
    }
  }
}

class ScenarioErrors : public ::testing::Test {
 protected:
  engine::Status Load(const std::string& yaml) {
    std::ofstream(dir_.path() / "s.yaml") << yaml;
    return LoadScenario((dir_.path() / "s.yaml").string()).status();
  }
  static void Expect(const engine::Status& st, const std::string& needle) {
    EXPECT_EQ(st.code(), engine::StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message() << " lacks " << needle;
  }
  testing::TempDir dir_;
};

// A program is checked when the scenario loads: a step typo or a channel typo is a
// scenario error with the step's line, unless the workload says it is malformed on purpose;
// a payload over the engine's limit is refused up front with the bound.
TEST_F(ScenarioErrors, ProgramsAreCheckedWhenTheScenarioLoads) {
  const std::string head = "name: x\nworkload:\n  - kind: batch\n    program:\n";
  Expect(Load(head + "      - exit: 0\n      - sleep: 100\n"),
         "s.yaml:6: workload[0].program[1]: unknown step 'sleep'");
  Expect(Load(head + "      - effect: {channel: pager, to: x}\n"),
         "s.yaml:5: workload[0].program[0].effect.channel: 'pager' is not one of email, sms, call");
  EXPECT_TRUE(Load("name: x\nworkload:\n  - kind: batch\n    malformed: true\n    program:\n"
                   "      - sleep: 100\n")
                  .ok());
  Expect(Load(head + "      - effect: {channel: sms, to: " + std::string(70'000, 'a') + "}\n"),
         "over the engine's payload limit of 65536");
  // Strings are escaped as JSON: a quote in a recipient is data, not a broken payload.
  EXPECT_TRUE(Load(head + "      - effect: {channel: sms, to: 'a\"b'}\n").ok());
}

TEST_F(ScenarioErrors, NamesKindsAndChoicesAreChecked) {
  const std::string ok_workload = "workload:\n  - kind: batch\n    program:\n      - exit: 0\n";
  Expect(Load(""), "s.yaml:1: scenario: empty: a scenario is a mapping");
  Expect(Load("[1, 2]\n"), "s.yaml:1: scenario: must be a mapping");
  Expect(Load("name: x\nname: y\n" + ok_workload), "s.yaml:2: name: given twice");
  Expect(Load("name: x\nworkload:\n  - kind: batch\n    tasks: 2\n    tasks: 3\n"
              "    program: [{exit: 0}]\n"),
         "s.yaml:5: workload[0].tasks: given twice");
  Expect(Load("name: ../../elsewhere\n" + ok_workload), "name: '../../elsewhere' is not a slug");
  Expect(Load("name: {a: 1}\n" + ok_workload), "name: must be a string");
  Expect(Load("name: x\nworkload:\n  - kind: [batch]\n    program: [{exit: 0}]\n"),
         "workload[0].kind: must be a name");
  Expect(
      Load("name: x\nworkload:\n  - kind: batch\n    requires: some\n    program: [{exit: 0}]\n"),
      "workload[0].requires: 'some' is not one of all-completed, all-resolved");
  Expect(
      Load("name: x\nworkload:\n  - kind: batch\n    priority: urgent\n    program: [{exit: 0}]\n"),
      "workload[0].priority: 'urgent' is not one of");
  Expect(Load("name: x\nlate_calls: maybe\n" + ok_workload),
         "late_calls: 'maybe' is not true or false");
  Expect(Load("name: x\nworkload:\n  - kind: cron\n    every_s: 60\n    until_s: 120\n"
              "    cancel_s: 1\n    program: [{exit: 0}]\n"),
         "recreate_s, cancel_s and rerun_s are for batch");
}

TEST_F(ScenarioErrors, NameFileLineAndField) {
  const std::string ok_workload = "workload:\n  - kind: batch\n    program:\n      - exit: 0\n";
  EXPECT_TRUE(Load("name: x\n" + ok_workload).ok());
  Expect(Load("name: x\nworkrs: 3\n" + ok_workload), "s.yaml:2: workrs: unknown key");
  Expect(Load("name: x\nworkers: 0\n" + ok_workload), "s.yaml:2: workers: 0 is outside 1..1000");
  Expect(Load("name: x\nworkload:\n  - kind: batch\n    tasks: -3\n    program: [{exit: 0}]\n"),
         "s.yaml:4: workload[0].tasks: -3 is outside 1..1000000");
  Expect(Load("name: x\nworkload:\n  - kind: stream\n    program: [{exit: 0}]\n"),
         "workload[0].kind: 'stream'");
  Expect(Load("name: x\nworkload:\n  - kind: batch\n"), "workload[0].program: missing");
  Expect(Load("name: x\n" + ok_workload + "faults:\n  - {kind: meteor, at_s: 1, duration_s: 1}\n"),
         "faults[0].kind: 'meteor' is not a fault kind");
  Expect(Load("name: x\n" + ok_workload +
              "faults:\n  - {kind: worker-crash, target: worker-9, at_s: 1, duration_s: 1}\n"),
         "faults[0].target: 'worker-9' is not worker-0..worker-2");
  const std::string hook = "name: x\nworkload:\n  - kind: hook\n    until_s: 600\n";
  Expect(Load(hook + "    schedule: \"61 * * * *\"\n    program: [{exit: 0}]\n"),
         "s.yaml:5: workload[0].schedule: minute field '61' is out of range (allowed 0..59)");
  Expect(Load(hook + "    program: [{exit: 0}]\n"), "workload[0].schedule: missing");
  Expect(
      Load("name: x\nworkload:\n  - kind: hook\n    until_s: 2000000\n    schedule: \"* * * * *\"\n"
           "    program: [{exit: 0}]\n"),
      "workload[0].schedule: fires more than 10000 times between at_s and until_s");
  Expect(Load("name: x\nworkload:\n  - kind: batch\n    schedule: \"* * * * *\"\n"
              "    program: [{exit: 0}]\n"),
         "workload[0].schedule: only a hook workload has a schedule");
  Expect(Load("name: x\n" + ok_workload +
              "faults:\n  - {kind: worker-crash, target: worker-0, at_s: 1, duration_s: 1, "
              "probability: 0.5}\n"),
         "faults[0].probability: only fsync-error, write-error and flaky-network take a "
         "probability");
  Expect(Load("name: x\n" + ok_workload +
              "faults:\n  - {kind: fsync-error, at_s: 1, duration_s: 1, probability: 1.5}\n"),
         "s.yaml:7: faults[0].probability: '1.5' is outside (0, 1]");
  Expect(Load("name: x\n" + ok_workload +
              "faults:\n  - {kind: flaky-network, target: all, at_s: 1, duration_s: 1, "
              "probability: often}\n"),
         "faults[0].probability: 'often' is outside (0, 1]");
  Expect(Load("name: x\nherd_guard: {window_s: 60}\n" + ok_workload), "herd_guard.max: missing");
  Expect(Load("name: x\nherd_guard: {window_s: 60, max: 2, per: 1}\n" + ok_workload),
         "s.yaml:2: herd_guard.per: unknown key");
  Expect(Load("name: x\nworkload: [\n"), "s.yaml:");
  Expect(LoadScenario((dir_.path() / "missing.yaml").string()).status(), "cannot read");
}

}  // namespace
}  // namespace ithappens::harness
