// Proves each checker is quiet on a correct history and fails on the violation it exists
// for (a checker that no history can make fail would prove nothing), and that the history
// format round-trips and names the line and field of a malformed event.
#include "harness/checker.h"

#include <gtest/gtest.h>

#include <fstream>

#include "harness/checkers/checker_util.h"
#include "harness/history/history.h"
#include "tests/testing/engine_fixtures.h"
#include "tests/testing/history_fixtures.h"

namespace ithappens::harness {
namespace {

using nlohmann::json;

using testing::HistoryBuilder;

json RunJson(const std::string& state, const std::string& created = "scheduled",
             const std::string& reason = "", int64_t started = 10, int64_t resolved = 20) {
  return {{"state", state},
          {"reason_created", created},
          {"reason_resolved", reason.empty() ? state : reason},
          {"worker", "worker-0"},
          {"started_ms", started},
          {"resolved_ms", resolved}};
}

const CheckResult& Result(const std::vector<CheckResult>& rs, const std::string& name) {
  for (const auto& r : rs) {
    if (r.checker == name) return r;
  }
  throw std::runtime_error("no checker " + name);
}

HistoryBuilder Good() {
  HistoryBuilder h;
  h.Plan("A", "completed", {{"effects", {{{"step", 0}, {"channel", "sms"}, {"to", "p1"}}}}})
      .Plan("B", "failed")
      .Plan("C", "completed", {{"deps", {"A"}}})
      .Created("A")
      .Created("B")
      .Created("C")
      .Add("sink", EventType::kEffect, "deliver", "A",
           {{"key", "A/0"},
            {"step", 0},
            {"run", 0},
            {"channel", "sms"},
            {"to", "p1"},
            {"delivered", true}})
      .Ran("A", 0, "report-completed")
      .Ran("B", 0, "report-failed")
      .Ran("C", 0, "report-completed")
      .Final("A", "completed", {RunJson("completed", "scheduled", "completed", 10, 20)})
      .Final("B", "failed", {RunJson("failed")})
      .Final("C", "completed", {RunJson("completed", "scheduled", "completed", 30, 40)});
  return h;
}

TEST(Checkers, CorrectHistoryIsValid) {
  auto rs = CheckEvents(Good().events());
  EXPECT_EQ(Compose(rs), Validity::kValid);
  for (const auto& r : rs) EXPECT_EQ(r.valid, Validity::kValid) << r.checker;
}

TEST(Checkers, NoLostFailsWhenAnAcknowledgedTaskIsGone) {
  HistoryBuilder h = Good();
  h.Plan("D", "completed")
      .Created("D")
      .Add("final", EventType::kFinal, "status", "D", json(), "not found");
  auto r = Result(CheckEvents(h.events()), "no-lost");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  ASSERT_EQ(r.counterexamples.size(), 1u);
  EXPECT_EQ(r.counterexamples[0].task, "D");
}

TEST(Checkers, NoDuplicateTasksFailsOnTwoPlatformIds) {
  HistoryBuilder h = Good();
  h.Created("A", "A");
  h.Created("A", "A-second");
  EXPECT_EQ(Result(CheckEvents(h.events()), "no-duplicate-tasks").valid, Validity::kInvalid);
}

TEST(Checkers, NoDuplicateEffectsFailsOnASecondDelivery) {
  HistoryBuilder h = Good();
  h.Add("sink", EventType::kEffect, "deliver", "A",
        {{"key", "A/1/0"},
         {"step", 0},
         {"run", 1},
         {"channel", "sms"},
         {"to", "p1"},
         {"delivered", true}});
  auto r = Result(CheckEvents(h.events()), "no-duplicate-effects");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("twice"), std::string::npos);
}

TEST(Checkers, EffectOrderFailsWhenEscalationGoesBackwards) {
  HistoryBuilder h = Good();
  auto fx = [](int step, const std::string& ch) {
    return json{{"key", "A/" + std::to_string(step)},
                {"step", step},
                {"run", 0},
                {"channel", ch},
                {"to", "p1"},
                {"delivered", true}};
  };
  h.Add("sink", EventType::kEffect, "deliver", "A", fx(4, "call"));
  EXPECT_EQ(Result(CheckEvents(h.events()), "effect-order").valid, Validity::kValid)
      << "step 0, then 4";
  h.Add("sink", EventType::kEffect, "deliver", "A", fx(2, "sms"));
  auto r = Result(CheckEvents(h.events()), "effect-order");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("step 2 was delivered after step 4"),
            std::string::npos);
}

TEST(Checkers, SingleCompletionFailsOnTwoAcceptedRuns) {
  HistoryBuilder h = Good();
  h.Add("worker-1", EventType::kOk, "report-completed", "A", {{"run", 1}});
  EXPECT_EQ(Result(CheckEvents(h.events()), "single-completion").valid, Validity::kInvalid);
}

TEST(Checkers, AttributionFailsOnRetriedUserFailureAndBlamedPlatformFault) {
  HistoryBuilder retried;
  retried.Plan("B", "failed")
      .Created("B")
      .Final("B", "failed", {RunJson("failed"), RunJson("failed", "retry")});
  auto r = Result(CheckEvents(retried.events()), "attribution");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("retried"), std::string::npos);

  HistoryBuilder blamed;
  blamed.Add("nemesis", EventType::kFault, "worker-crash-start", "")
      .Plan("A", "completed")
      .Created("A")
      .Final("A", "failed", {RunJson("failed", "scheduled", "failed")});
  r = Result(CheckEvents(blamed.events()), "attribution");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("blamed"), std::string::npos);

  HistoryBuilder unexplained;
  unexplained.Plan("A", "completed")
      .Created("A")
      .Final("A", "completed",
             {RunJson("exception", "scheduled", "claim-expired"), RunJson("completed", "retry")});
  EXPECT_EQ(Result(CheckEvents(unexplained.events()), "attribution").valid, Validity::kInvalid)
      << "claim-expired with no fault injected";
}

TEST(Checkers, AttributionChecksTheRootCauseOfABlockedTask) {
  HistoryBuilder h;
  h.Plan("R", "failed")
      .Plan("X", "blocked", {{"root", "R"}, {"deps", {"R"}}})
      .Created("R")
      .Created("X");
  h.Final("R", "failed", {RunJson("failed")})
      .Final("X", "unscheduled", json::array(), {{"blocked_by", "Y"}});
  EXPECT_EQ(Result(CheckEvents(h.events()), "attribution").valid, Validity::kInvalid);
}

TEST(Checkers, DependencyOrderFailsWhenADependentStartsEarly) {
  HistoryBuilder h;
  h.Plan("A", "completed").Plan("C", "completed", {{"deps", {"A"}}}).Created("A").Created("C");
  h.Final("A", "completed", {RunJson("completed", "scheduled", "completed", 10, 50)});
  h.Final("C", "completed", {RunJson("completed", "scheduled", "completed", 20, 60)});
  EXPECT_EQ(Result(CheckEvents(h.events()), "dependency-order").valid, Validity::kInvalid);
}

TEST(Checkers, DeadlineFailsOnLateCompletionAndOnAnUnresolvedTaskPastIt) {
  HistoryBuilder late;
  late.Plan("A", "completed")
      .Created("A")
      .Final("A", "completed", {RunJson("completed", "scheduled", "completed", 10, 500)},
             {{"deadline_ms", 100}});
  auto r = Result(CheckEvents(late.events()), "deadline");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("after the task's deadline"), std::string::npos);
  HistoryBuilder stuck;  // the final read happens at t_ns of the event (ms * 1e6)
  stuck.Plan("A", "completed").Created("A");
  stuck
      .Add("final", EventType::kFinal, "status", "A",
           {{"state", "pending"}, {"runs", {RunJson("pending")}}, {"deadline_ms", 100}})
      .AtMs(5000);
  EXPECT_EQ(Result(CheckEvents(stuck.events()), "deadline").valid, Validity::kInvalid);
  EXPECT_EQ(Result(CheckEvents(Good().events()), "deadline").valid, Validity::kValid);
}

TEST(Checkers, LivenessFailsOnATaskStillRunning) {
  HistoryBuilder h;
  h.Plan("A", "completed").Created("A").Final("A", "running", {RunJson("running")});
  auto r = Result(CheckEvents(h.events()), "liveness");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("still running"), std::string::npos);
}

TEST(Checkers, CounterexamplesAreCappedAtTen) {
  HistoryBuilder h;
  for (int i = 0; i < 25; ++i) {
    std::string t = "T" + std::to_string(i);
    h.Plan(t, "completed").Created(t).Final(t, "pending", {RunJson("pending")});
  }
  auto r = Result(CheckEvents(h.events()), "liveness");
  EXPECT_EQ(r.counterexamples.size(), kMaxCounterexamples);
  EXPECT_EQ(r.counts["stuck"], 25);
}

TEST(Checkers, LivenessCoversATaskWhoseCreateAnswerWasLost) {
  // The create's answer never came (info), but the platform made the task: it must run.
  HistoryBuilder h;
  h.Plan("A", "completed")
      .Add("client-0", EventType::kInvoke, "create", "A")
      .Add("client-0", EventType::kInfo, "create", "A", json(), "response lost")
      .Final("A", "pending", json::array());
  EXPECT_EQ(Result(CheckEvents(h.events()), "liveness").valid, Validity::kInvalid);
}

// A hook "H" created at 0 ms with fires at 1000, 2000 and 3000 ms (next: 4000), removed at
// 3500 ms. `exists` says which fire tasks exist at the end.
HistoryBuilder HookHistory(std::vector<bool> exists, int64_t crash_from = -1, int64_t crash_to = -1,
                           int64_t removed_ok_ms = 3600) {
  HistoryBuilder h;
  json fires = json::array();
  for (int k = 0; k < 3; ++k) {
    fires.push_back({{"at_ms", 1000 * (k + 1)}, {"task", "F" + std::to_string(k)}});
    h.Plan("F" + std::to_string(k), "completed");
  }
  h.Add("plan", EventType::kPlan, "hook", "",
        {{"hook", "H"}, {"fires", fires}, {"next_ms", 4000}, {"at_ms", 0}, {"until_ms", 3500}});
  h.Add("client-0", EventType::kInvoke, "create-hook", "", {{"hook", "H"}}).AtMs(0);
  h.Add("client-0", EventType::kOk, "create-hook", "", {{"hook", "H"}}).AtMs(2);
  if (crash_from >= 0) {
    h.Add("nemesis", EventType::kFault, "engine-crash-start", "", {{"duration_ms", 1}})
        .AtMs(crash_from);
    h.Add("nemesis", EventType::kFault, "engine-crash-stop", "", {{"duration_ms", 1}})
        .AtMs(crash_to);
  }
  h.Add("client-0", EventType::kInvoke, "remove-hook", "", {{"hook", "H"}}).AtMs(3500);
  h.Add("client-0", EventType::kOk, "remove-hook", "", {{"hook", "H"}}).AtMs(removed_ok_ms);
  for (int k = 0; k < 3; ++k) {
    const std::string t = "F" + std::to_string(k);
    if (exists[k]) {
      h.Final(t, "completed", {RunJson("completed")}).AtMs(5000);
    } else {
      h.Add("final", EventType::kFinal, "status", t, json(), "not found").AtMs(5000);
    }
  }
  return h;
}

TEST(Checkers, HookFiresFailsOnAMissingFireAndExcusesAnOutage) {
  // Fires at 1000 and 2000 are owed (the hook existed until the next fire); 3000 is not
  // (the removal was asked for at 3500, before the next fire at 4000).
  EXPECT_EQ(Result(CheckEvents(HookHistory({true, true, false}).events()), "hook-fires").valid,
            Validity::kValid);
  auto r = Result(CheckEvents(HookHistory({true, false, true}).events()), "hook-fires");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  ASSERT_FALSE(r.counterexamples.empty());
  EXPECT_NE(r.counterexamples[0].explanation.find("fire at 2000 ms is missing"), std::string::npos)
      << r.counterexamples[0].explanation;
  EXPECT_EQ(r.counts["owed"], 2);
  // The engine was down from 1900 to 2999 ms: too little of [2000, 3000) was up, so no
  // catch-up is owed for the 2000 fire.
  EXPECT_EQ(Result(CheckEvents(HookHistory({true, false, true}, 1900, 2999).events()), "hook-fires")
                .valid,
            Validity::kValid);
  // Down from 1900 to 2500 leaves 500 ms up before 3000: still excused (under kMinUpMs).
  EXPECT_EQ(Result(CheckEvents(HookHistory({true, false, true}, 1900, 2500).events()), "hook-fires")
                .valid,
            Validity::kValid);
  // Down only from 1900 to 1950: the engine was up most of [2000, 3000): owed.
  EXPECT_EQ(Result(CheckEvents(HookHistory({true, false, true}, 1900, 1950).events()), "hook-fires")
                .valid,
            Validity::kInvalid);
}

// Deliveries to one recipient at these times under a herd guard of 2 per 1 s, in a run
// whose timing slack is slack_ms (0: a simulated run states none).
CheckResult HerdHistory(std::vector<int64_t> at_ms, int64_t slack_ms = 0) {
  HistoryBuilder h;
  if (slack_ms > 0) {
    h.Add("plan", EventType::kPlan, "target", "",
          {{"claim_timeout_ms", 60000}, {"timing_slack_ms", slack_ms}});
  }
  h.Add("plan", EventType::kPlan, "herd-guard", "", {{"window_ms", 1000}, {"max", 2}});
  for (size_t k = 0; k < at_ms.size(); ++k) {
    const std::string t = "T" + std::to_string(k);
    h.Plan(t, "completed", {{"effects", {{{"step", 0}, {"channel", "sms"}, {"to", "p"}}}}});
  }
  for (size_t k = 0; k < at_ms.size(); ++k) {
    const std::string t = "T" + std::to_string(k);
    h.Add("sink", EventType::kEffect, "deliver", t,
          {{"key", t + "/0"}, {"step", 0}, {"channel", "sms"}, {"to", "p"}, {"delivered", true}})
        .AtMs(at_ms[k]);
  }
  return Result(CheckEvents(h.events()), "no-duplicate-effects");
}

// The herd guard: at most max deliveries to one recipient within any window.
TEST(Checkers, HerdGuardFailsWhenARecipientGetsTooManyWithinTheWindow) {
  auto history = [](std::vector<int64_t> at_ms) { return HerdHistory(std::move(at_ms)); };
  EXPECT_EQ(history({0, 600, 1200, 1800}).valid, Validity::kValid) << "never 3 within 1 s";
  auto herd = history({0, 500, 900, 5000});
  EXPECT_EQ(herd.valid, Validity::kInvalid);
  ASSERT_FALSE(herd.counterexamples.empty());
  EXPECT_NE(herd.counterexamples[0].explanation.find("got 3 notifications within 1 s"),
            std::string::npos)
      << herd.counterexamples[0].explanation;
  EXPECT_EQ(herd.counts["herded_recipients"], 1);
}

// A real run's timing slack shortens the window the herd guard judges: three deliveries
// within 1 s but not within 1 s less 200 ms of slack are not a certain herd; three within
// 700 ms are.
TEST(Checkers, HerdGuardJudgesTheWindowLessTheRunsTimingSlack) {
  auto history = [](std::vector<int64_t> at_ms) { return HerdHistory(std::move(at_ms), 200); };
  const auto wide = history({0, 500, 900, 5000});  // a herd without the slack (test above)
  EXPECT_EQ(wide.valid, Validity::kValid);
  EXPECT_EQ(wide.counts["herd_window_judged_ms"], 800);
  EXPECT_EQ(history({0, 300, 700, 5000}).valid, Validity::kInvalid);
}

TEST(Checkers, HookFiresFailsOnAFireAfterTheRemovalWasAcknowledged) {
  auto r =
      Result(CheckEvents(HookHistory({true, true, true}, -1, -1, 2500).events()), "hook-fires");
  EXPECT_EQ(r.valid, Validity::kInvalid);
  ASSERT_FALSE(r.counterexamples.empty());
  EXPECT_NE(r.counterexamples[0].explanation.find("after its removal"), std::string::npos);
}

TEST(History, RoundTripsAndNamesTheBadLine) {
  Event e;
  e.i = 3;
  e.t_ns = 42;
  e.proc = "client-1";
  e.type = EventType::kInfo;
  e.f = "create";
  e.task = "T";
  e.error = "response lost";
  std::string line = EventToJson(e);
  EXPECT_EQ(
      line,
      R"({"i":3,"t_ns":42,"proc":"client-1","type":"info","f":"create","task":"T","error":"response lost"})");
  Event back;
  std::string why;
  ASSERT_TRUE(EventFromJson(line, &back, &why)) << why;
  EXPECT_EQ(EventToJson(back), line);
  EXPECT_FALSE(EventFromJson(R"({"i":1,"t_ns":0,"proc":"p","type":"maybe","f":"x"})", &back, &why));
  EXPECT_NE(why.find("type: unknown value 'maybe'"), std::string::npos);
  EXPECT_FALSE(EventFromJson(R"({"i":1,"proc":"p","type":"ok","f":"x"})", &back, &why));
  EXPECT_NE(why.find("t_ns"), std::string::npos);
}

// The reader's fast path (the writer's own form) and its fallback (any other valid JSON
// object) must decode to the same fields; escapes are decoded; bad lines are refused
// naming the line and the field.
class Reader : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const auto path = dir_.path() / "h.jsonl";
    std::ofstream(path) << text;
    return path.string();
  }
  // Reads and renders the decoded fields of every event.
  bool Read(const std::string& text, std::vector<std::string>* out, std::string* error) {
    return ReadEvents(
        Write(text),
        [&](const EventView& e) {
          std::string r = std::to_string(e.i) + "|" + std::to_string(e.t_ns) + "|" +
                          std::string(e.proc) + "|" + std::string(ToString(e.type)) + "|" +
                          std::string(e.f) + "|" + std::string(e.task) + "#" +
                          std::to_string(e.task_ix) + "|" + std::string(e.error) + "|" +
                          std::string(e.state) + "|" + std::to_string(e.step) + "|" +
                          (e.delivered ? "delivered" : "-") + "|" + std::string(e.to);
          for (const RunFacts& run : e.runs)
            r += "|run:" + std::string(run.state) + "@" + std::to_string(run.started_ms);
          for (uint32_t d : e.deps) r += "|dep#" + std::to_string(d);
          out->push_back(r);
        },
        error);
  }
  testing::TempDir dir_;
};

TEST_F(Reader, FastPathAndFallbackAgreeAndEscapesAreDecoded) {
  const std::string ours =
      R"({"i":0,"t_ns":5,"proc":"plan","type":"plan","f":"task","task":"B","value":{"deps":["A"],"expect":"completed"}})"
      "\n"
      R"({"i":1,"t_ns":7,"proc":"sink","type":"effect","f":"deliver","task":"A","value":{"channel":"sms","delivered":true,"step":2,"to":"p\u00e9\"1"}})"
      "\n"
      R"({"i":2,"t_ns":9,"proc":"final","type":"final","f":"status","task":"A","value":{"runs":[{"started_ms":3,"state":"completed"}],"state":"completed"}})"
      "\n"
      R"({"i":3,"t_ns":9,"proc":"client-\t0","type":"info","f":"create","task":"B","error":"lost \"answer\""})"
      "\n";
  const std::string other =
      R"({ "t_ns": 5, "i": 0, "type": "plan", "proc": "plan", "f": "task", "task": "B", "value": { "expect": "completed", "deps": [ "A" ] } })"
      "\r\n"
      R"({"value":{"to":"p\u00e9\"1","step":2,"delivered":true,"channel":"sms"},"task":"A","f":"deliver","type":"effect","proc":"sink","t_ns":7,"i":1})"
      "\n\n"
      R"({"i":2,"t_ns":9,"proc":"final","type":"final","f":"status","task":"A","value":{"state":"completed","runs":[{"state":"completed","started_ms":3}]}})"
      "\n"
      R"({"error":"lost \"answer\"","i":3,"t_ns":9,"proc":"client-\t0","type":"info","f":"create","task":"B"})";
  std::vector<std::string> a, b;
  std::string error;
  ASSERT_TRUE(Read(ours, &a, &error)) << error;
  ASSERT_TRUE(Read(other, &b, &error)) << error;
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0], "0|5|plan|plan|task|B#1|||-1|-||dep#0")
      << "task ids are interned densely, equal ids equal indices";
  EXPECT_EQ(a[1], "1|7|sink|effect|deliver|A#0|||2|delivered|p\xc3\xa9\"1");
  EXPECT_EQ(a[2], "2|9|final|final|status|A#0||completed|-1|-||run:completed@3");
  EXPECT_EQ(a[3], "3|9|client-\t0|info|create|B#1|lost \"answer\"||-1|-|");
}

// The streaming edges: an empty file, a last line without its newline, blank and CRLF
// lines, a line longer than the read buffer, and a missing file.
TEST_F(Reader, StreamsEveryLineWhateverTheBufferBoundaries) {
  std::vector<std::string> seen;
  std::string error;
  EXPECT_TRUE(Read("", &seen, &error)) << error;
  EXPECT_TRUE(seen.empty());
  const std::string a = R"({"i":0,"t_ns":0,"proc":"p","type":"ok","f":"create","task":"A"})";
  const std::string b = R"({"i":1,"t_ns":0,"proc":"p","type":"ok","f":"create","task":"B"})";
  ASSERT_TRUE(Read(a + "\r\n\n" + b, &seen, &error)) << error;  // no newline at the end
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[1].find("|B#"), std::string::npos);
  // A 3 MB error text: longer than the reader's 1 MB buffer, between two short lines.
  const std::string huge =
      R"({"i":2,"t_ns":0,"proc":"p","type":"info","f":"create","task":"C","error":")" +
      std::string(3 << 20, 'x') + R"("})";
  seen.clear();
  ASSERT_TRUE(Read(a + "\n" + huge + "\n" + b + "\n", &seen, &error)) << error;
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NE(seen[1].find(std::string(1000, 'x')), std::string::npos);
  EXPECT_NE(seen[2].find("|B#"), std::string::npos);
  // Many lines across many buffer refills keep their order and numbering.
  std::string many;
  for (int k = 0; k < 30000; ++k)
    many += R"({"i":)" + std::to_string(k) +
            R"(,"t_ns":0,"proc":"p","type":"invoke","f":"claim"})" + "\n";
  seen.clear();
  EXPECT_FALSE(Read(many + "not json\n", &seen, &error));
  EXPECT_EQ(seen.size(), 30000u) << "every event before the bad line is delivered";
  EXPECT_NE(error.find("h.jsonl:30001: "), std::string::npos) << error;
  seen.clear();
  error.clear();
  ASSERT_TRUE(Read(many, &seen, &error)) << error;
  ASSERT_EQ(seen.size(), 30000u);
  EXPECT_EQ(seen[29999].substr(0, 6), "29999|");
  EXPECT_FALSE(
      ReadEvents((dir_.path() / "missing.jsonl").string(), [](const EventView&) {}, &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

TEST_F(Reader, RefusesBadLinesNamingTheLineAndTheField) {
  const std::string good = R"({"i":0,"t_ns":0,"proc":"p","type":"ok","f":"create","task":"A"})"
                           "\n";
  std::vector<std::string> seen;
  std::string error;
  auto refuses = [&](const std::string& bad, const std::string& needle) {
    seen.clear();
    error.clear();
    EXPECT_FALSE(Read(good + bad + "\n" + good, &seen, &error)) << bad;
    EXPECT_NE(error.find(needle), std::string::npos) << error << " lacks " << needle;
    EXPECT_EQ(seen.size(), 1u) << "the events before the bad line are delivered";
  };
  refuses(
      R"({"i":1,"t_ns":0,"proc":"sink","type":"effect","f":"deliver","task":"A","value":{"step":"two"}})",
      "h.jsonl:2: value.step: not an integer");
  refuses(
      R"({"i":1,"t_ns":0,"proc":"p","type":"final","f":"status","task":"A","value":{"runs":{}}})",
      "h.jsonl:2: value.runs: not a list of objects");
  refuses(R"({"i":1,"t_ns":0,"proc":"p","type":"ok","f":"x","value":{"a":tru}})",
          "h.jsonl:2: not a JSON object");
  refuses(R"({"i":1,"t_ns":0,"proc":"p","type":"maybe","f":"x"})",
          "h.jsonl:2: type: unknown value 'maybe'");
  refuses(R"({"i":1,"t_ns":0,"proc":"p","type":"ok","f":"x","task":")" +
              std::string(kMaxTaskIdLength + 1, 'x') + R"("})",
          "h.jsonl:2: task: 1025 characters, over the limit of 1024");
}

// The checkers' compact per-task helpers keep what the vectors and strings they replace
// kept: every event up to ten, the first name given to an index, one code per text.
TEST(CheckerUtil, EvidenceKeepsTheFirstTenEventsInOrder) {
  checkers::Evidence ev;
  EXPECT_TRUE(ev.Events().empty());
  for (int64_t i = 0; i < 14; ++i) {
    ev.Add(100 + i);
    std::vector<int64_t> want;
    for (int64_t k = 0; k <= std::min<int64_t>(i, 9); ++k) want.push_back(100 + k);
    EXPECT_EQ(ev.Events(), want) << "after " << i + 1;
  }
}

TEST(CheckerUtil, EvidenceCopiesAreWholeAndIndependent) {
  checkers::Evidence a;
  for (int64_t i = 0; i < 5; ++i) a.Add(i);
  checkers::Evidence b = a;
  b.Add(99);
  EXPECT_EQ(a.Events(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(b.Events(), (std::vector<int64_t>{0, 1, 2, 3, 4, 99}));
  std::vector<checkers::Evidence> slots(3, a);  // as a per-task slot vector fills
  EXPECT_EQ(slots[2].Events(), a.Events());
}

TEST(CheckerUtil, NameTableGivesEachIndexItsFirstName) {
  checkers::NameTable names;
  names.Set(3, "three");
  names.Set(0, "zero");
  names.Set(3, "other");
  names.Set(1000, std::string(40, 'x'));
  EXPECT_EQ(names.Get(3), "three");
  EXPECT_EQ(names.Get(0), "zero");
  EXPECT_EQ(names.Get(1000), std::string(40, 'x'));
  EXPECT_EQ(names.Get(1), "");
  EXPECT_EQ(names.Get(5000, "?"), "?");
}

TEST(CheckerUtil, SmallNamesCodeEachTextOnce) {
  checkers::SmallNames texts;
  const std::vector<std::string> seq = {"completed", "failed", "completed",
                                        "",          "failed", "blocked"};
  std::vector<uint32_t> codes;
  for (const auto& t : seq) codes.push_back(texts.Code(t));
  EXPECT_EQ(codes, (std::vector<uint32_t>{0, 1, 0, 2, 1, 3}));
  EXPECT_EQ(texts.size(), 4u);
  for (size_t k = 0; k < seq.size(); ++k) EXPECT_EQ(texts.Name(codes[k]), seq[k]);
}

}  // namespace
}  // namespace ithappens::harness
