// Proves the workload planner: what each workload kind submits and when, how the load
// multiplier scales it, and the ground truth it records (a failing root blocks its chain).
#include "harness/load/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace ithappens::harness {
namespace {

Scenario With(WorkloadSpec w) {
  Scenario s;
  s.name = "t";
  s.clients = 2;
  s.workload.push_back(std::move(w));
  return s;
}

std::vector<Submission> Drain(const Workload& w) {
  WorkloadGenerator g(w);
  std::vector<Submission> out;
  while (auto sub = g.Next()) out.push_back(*sub);
  return out;
}

TEST(Workload, BatchSubmitsEveryTaskAtItsTimeAndLoadScalesIt) {
  WorkloadSpec b;
  b.kind = "batch";
  b.tasks = 3;
  b.at_ms = 5000;
  b.program = R"([{"effect":{"channel":"sms","to":"p-{i}"}},{"exit":0}])";
  Workload w = PlanWorkload(With(b), 1.0);
  auto subs = Drain(w);
  ASSERT_EQ(subs.size(), 3u);
  for (const auto& s : subs) {
    EXPECT_EQ(s.at_ms, 5000);
    EXPECT_EQ(s.tasks.size(), 1u);
  }
  EXPECT_EQ(w.tasks[2].Effects()[0].to, "p-2") << "{i} is the ordinal";
  EXPECT_EQ(w.tasks[0].expect, "completed");
  EXPECT_NE(w.tasks[0].def->task_id, w.tasks[1].def->task_id);
  EXPECT_EQ(PlanWorkload(With(b), 5.0).tasks.size(), 15u);
}

TEST(Workload, FailingRootBlocksItsChainWithTheRootNamed) {
  WorkloadSpec c;
  c.kind = "chain";
  c.tasks = 2;
  c.length = 3;
  c.fail_root = true;
  c.program = R"([{"effect":{"channel":"email","to":"x"}},{"exit":0}])";
  Workload w = PlanWorkload(With(c), 1.0);
  auto subs = Drain(w);
  ASSERT_EQ(subs.size(), 2u);
  ASSERT_EQ(subs[0].tasks.size(), 3u);
  const auto& root = w.tasks[subs[0].tasks[0]];
  const auto& last = w.tasks[subs[0].tasks[2]];
  EXPECT_EQ(root.expect, "failed");
  EXPECT_EQ(last.expect, "blocked");
  EXPECT_EQ(last.root.view(), root.def->task_id);
  EXPECT_TRUE(last.Effects().empty()) << "a blocked task never notifies";
  EXPECT_EQ(last.def->dependencies,
            std::vector<std::string>{w.tasks[subs[0].tasks[1]].def->task_id});
}

TEST(Workload, FanoutJoinsEveryChildAndIsBlockedByAFailingRoot) {
  WorkloadSpec g;
  g.kind = "fanout";
  g.tasks = 1;
  g.length = 4;  // width
  g.fail_root = true;
  g.program = R"([{"exit":0}])";
  Workload w = PlanWorkload(With(g), 1.0);
  ASSERT_EQ(w.tasks.size(), 6u) << "root, 4 children, join";
  const auto& root = w.tasks[0];
  const auto& join = w.tasks[5];
  EXPECT_EQ(w.tasks[1].def->dependencies, std::vector<std::string>{root.def->task_id});
  EXPECT_EQ(join.def->dependencies.size(), 4u);
  EXPECT_EQ(join.expect, "blocked");
  EXPECT_EQ(join.root.view(), root.def->task_id) << "through any child, the root is the cause";
}

TEST(Workload, FanoutWidthGrowsWithLoadUpToTheDependencyBound) {
  WorkloadSpec g;
  g.kind = "fanout";
  g.tasks = 4;   // graphs
  g.length = 6;  // width
  g.program = R"([{"exit":0}])";
  auto widest = [](const Workload& w) {
    size_t most = 0;
    for (const auto& t : w.tasks) most = std::max(most, t.def->dependencies.size());
    return most;
  };
  Workload five = PlanWorkload(With(g), 5.0);
  EXPECT_EQ(widest(five), 30u) << "width 6 x load 5";
  EXPECT_EQ(five.tasks.size(), 4u * (30 + 2)) << "as many graphs as at 1x";
  Workload fifty = PlanWorkload(With(g), 50.0);
  EXPECT_EQ(widest(fifty), engine::kMaxDependencies) << "the join's dependencies are bounded";
  EXPECT_EQ(fifty.tasks.size(), 12u * (100 + 2)) << "the rest of the growth is graphs: 4x6x50/100";
}

// A planned outcome is held in a byte and reads as the name it was made from; a name
// outside the five is the planner's bug and is refused, never read as another.
TEST(Workload, AnOutcomeReadsAsItsNameAndRefusesAnyOther) {
  for (std::string_view name : {"", "completed", "failed", "exception", "blocked"}) {
    const Outcome o(name);
    EXPECT_EQ(o.view(), name);
    EXPECT_EQ(o.empty(), name.empty());
    Outcome copy;
    copy = o;
    EXPECT_TRUE(copy == name);
  }
  EXPECT_FALSE(Outcome("failed") == "completed");
  EXPECT_THROW(Outcome("complete"), std::logic_error);
  EXPECT_THROW(Outcome("Blocked"), std::logic_error);
}

// The simulator writes plan events with PlanJson (no JSON objects built); it must be
// exactly what nlohmann writes for the same value, escapes included.
nlohmann::json PlanOracle(const PlannedTask& t) {
  nlohmann::json fx = nlohmann::json::array();
  for (const PlannedEffect& e : t.Effects())
    fx.push_back({{"step", e.step}, {"channel", e.channel}, {"to", e.to}});
  nlohmann::json value = {{"expect", t.expect.view()},
                          {"deps", t.def->dependencies},
                          {"effects", fx},
                          {"program", t.def->payload},
                          {"requires", engine::ToString(t.def->requires_)},
                          {"retries", t.def->retries}};
  if (!t.root.empty()) value["root"] = t.root.view();
  value["runs_as"] = (t.runs_as.empty() ? t.expect : t.runs_as).view();
  return value;
}

TEST(Workload, PlanJsonIsThePlanValueAsNlohmannWritesIt) {
  WorkloadSpec c;
  c.kind = "chain";
  c.tasks = 1;
  c.length = 2;
  c.fail_root = true;
  c.program =
      "[{\"effect\":{\"channel\":\"sms\",\"to\":\"p\\\"{i}\\u0007\\b\\f\\n\"}},{\"exit\":0}]";
  Workload w = PlanWorkload(With(c), 1.0);
  ASSERT_EQ(w.tasks.size(), 2u);
  for (const auto& t : w.tasks) EXPECT_EQ(t.PlanJson(), PlanOracle(t).dump());
  EXPECT_FALSE(w.tasks[1].root.empty());
  // A tab and non-ASCII in an effect's recipient, at step 3.
  c.kind = "batch";
  c.fail_root = false;
  c.program = R"([{"sleep_ms":1},{"sleep_ms":1},{"sleep_ms":1},)"
              R"({"effect":{"channel":"sms","to":"x\ty\u00e9"}},{"exit":0}])";
  const PlannedTask fx = PlanWorkload(With(c), 1.0).tasks.at(0);
  ASSERT_EQ(fx.Effects().size(), 1u);
  EXPECT_EQ(fx.Effects()[0].step, 3);
  EXPECT_EQ(fx.Effects()[0].channel, "sms");
  EXPECT_EQ(fx.Effects()[0].to, "x\ty\u00e9");
  EXPECT_EQ(fx.PlanJson(), PlanOracle(fx).dump());
}

// "{i}" replaced by the ordinal until none is left: what ExpandOrdinal must give.
std::string ExpandByReplacing(std::string t, int64_t i) {
  for (size_t p; (p = t.find("{i}")) != std::string::npos;) t.replace(p, 3, std::to_string(i));
  return t;
}

// A task's payload and an effect's `to` are their workload's text with the ordinal for
// every "{i}", and the payload (the engine keeps one per task) is held at its size, not at
// the doubled capacity of a string grown in place.
TEST(Workload, ExpandOrdinalPutsTheOrdinalForEveryPlaceholderAtItsSize) {
  const std::string long_text(100, 'x');
  for (const std::string& t :
       {std::string(""), std::string("{i}"), std::string("{i}{i}"), std::string("{{i}}"),
        std::string("{i}i}"), std::string("{i"), std::string("i}"), std::string("a{i}b{i}c"),
        std::string(R"([{"sleep_ms":10},{"effect":{"channel":"sms","to":"p-{i}"}}])"),
        long_text + "{i}" + long_text + "{i}", std::string("no placeholder at all, long enough")}) {
    for (int64_t i : {int64_t{0}, int64_t{7}, int64_t{-3}, int64_t{123456789012}}) {
      const std::string got = ExpandOrdinal(t, i);
      EXPECT_EQ(got, ExpandByReplacing(t, i)) << t << " i=" << i;
      // (libstdc++ grows a string out of its 15-byte buffer to at least 30.)
      EXPECT_LE(got.capacity(), std::max<size_t>(got.size(), 30)) << t << " i=" << i;
    }
  }
}

// ProgramCache parses a workload's template once where that is exactly what parsing each
// task's expanded text gives, and parses per task where it is not.
TEST(Workload, ProgramCacheEqualsParsingEachExpandedPayload) {
  const auto expand = ExpandByReplacing;
  auto same = [](const engine::Result<worker::Program>& a,
                 const engine::Result<worker::Program>& b) {
    if (a.ok() != b.ok()) return false;
    if (!a.ok()) return a.status().ToString() == b.status().ToString();
    if (a->memory_limit_mb != b->memory_limit_mb || a->steps.size() != b->steps.size())
      return false;
    for (size_t k = 0; k < a->steps.size(); ++k) {
      const auto &x = a->steps[k], &y = b->steps[k];
      if (x.kind != y.kind || x.value != y.value || x.channel != y.channel || x.to != y.to)
        return false;
    }
    return true;
  };
  const std::string long_to(250, 'x');
  const std::vector<std::string> templates = {
      R"([{"sleep_ms":10},{"effect":{"channel":"sms","to":"p-{i}"}},{"exit":0}])",
      R"([{"exit":0}])",
      R"([{"sleep_ms":{i}}])",                                // a number only when expanded
      R"([{"effect":{"channel":"sms","to":"p-{i}"}}])",       // an escape
      R"([{"effect":{"channel":"sms","to":"a","x{i}":1}}])",  // "{i}" in a key
      R"([{"effect":{"channel":"sms","to":")" + long_to + R"({i}"}}])",  // over 255 when long
      R"({"steps":[{"effect":{"channel":"email","to":"{i}/{i}"}}],"memory_limit_mb":5})",
      R"([{"effect":{"channel":"s{i}","to":"x"}}])",                 // not a channel
      R"([{"effect":{"channel":"sms","to":"\u007bi}","x{i}":1}}])",  // "{i}" by escape
  };
  int shared = 0;
  for (const auto& t : templates) {
    ProgramCache cache(t);
    for (int64_t i : {0, 7, 42, 123456}) {
      const std::string text = expand(t, i);
      EXPECT_TRUE(same(*cache.For(i, text), worker::ParsePayload(text))) << t << " i=" << i;
      // The template the simulator shares: with each effect's `to` as EffectTo gives it,
      // task i's program exactly.
      bool substitute = false;
      const auto tmpl = cache.Shared(i, &substitute);
      if (!tmpl) continue;
      ++shared;
      engine::Result<worker::Program> as_run = *tmpl;
      if (as_run.ok()) {
        worker::Program p = as_run.value();
        for (auto& st : p.steps) {
          if (st.kind == worker::Step::Kind::kEffect) st.to = EffectTo(st, substitute ? i : -1);
        }
        as_run = std::move(p);
      }
      EXPECT_TRUE(same(as_run, worker::ParsePayload(text))) << "shared: " << t << " i=" << i;
    }
  }
  EXPECT_GT(shared, 0);
  bool substitute = false;
  EXPECT_NE(ProgramCache(templates[0]).Shared(42, &substitute), nullptr);
  EXPECT_TRUE(substitute) << "\"{i}\" in a `to`: shared, put in as delivered";
  EXPECT_NE(ProgramCache(templates[1]).Shared(42, &substitute), nullptr);
  EXPECT_FALSE(substitute) << "nothing to put in";
  EXPECT_EQ(ProgramCache(templates[2]).Shared(42, &substitute), nullptr)
      << "a template that is not a program by itself is parsed per task";
  EXPECT_NE(ProgramCache(templates[5]).Shared(0, &substitute), nullptr);
  EXPECT_EQ(ProgramCache(templates[5]).Shared(123456, &substitute), nullptr)
      << "a `to` over the parser's bound is parsed per task (the parser names the bound)";
  // Tasks with the same text share one parse.
  ProgramCache constant(R"([{"exit":0}])");
  EXPECT_EQ(constant.For(1, R"([{"exit":0}])"), constant.For(2, R"([{"exit":0}])"));
}

TEST(Workload, RateArrivalsAreEvenlySpacedOpenLoop) {
  WorkloadSpec r;
  r.kind = "rate";
  r.per_s = 2;
  r.at_ms = 10'000;
  r.until_ms = 20'000;
  r.program = R"([{"exit":0}])";
  auto subs = Drain(PlanWorkload(With(r), 2.0));
  ASSERT_EQ(subs.size(), 40u) << "2/s x 10 s x load 2";
  EXPECT_EQ(subs.front().at_ms, 10'000);
  EXPECT_EQ(subs[1].at_ms - subs[0].at_ms, 250);
  EXPECT_EQ(subs.back().at_ms, 19'750) << "the 40th planned arrival, before until_s";
}

TEST(Workload, CronFillerResubmitsTheSameTaskWithAFixedCreatedTime) {
  WorkloadSpec f;
  f.kind = "cron";
  f.tasks = 2;
  f.at_ms = 0;
  f.every_ms = 300'000;
  f.until_ms = 900'000;
  f.program = R"([{"exit":0}])";
  Workload w = PlanWorkload(With(f), 1.0);
  auto subs = Drain(w);
  ASSERT_EQ(subs.size(), 8u) << "2 appointments x fires at 0, 5, 10, 15 min";
  EXPECT_EQ(subs[0].tasks, subs[3].tasks) << "the same task every time";
  EXPECT_EQ(subs[3].at_ms, 900'000);
  EXPECT_EQ(w.tasks[0].created_at_ms, 0) << "identical definitions: creates are idempotent";
}

// The size the run bound judges is what the planner makes: for every scenario in
// scenarios/ and at three loads, SizeOfRun's tasks, creates and effects equal the plan's.
TEST(RunSize, EqualsThePlanOfEveryScenarioAtEveryLoad) {
  int judged = 0;
  for (const auto& f : std::filesystem::directory_iterator(ITHAPPENS_SOURCE_DIR "/scenarios")) {
    auto s = LoadScenario(f.path().string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (double load : {1.0, 5.0, 50.0}) {
      const Workload w = PlanWorkload(*s, load);
      double creates = 0, effects = 0;
      for (const Submission& sub : w.submissions)
        creates += static_cast<double>(sub.tasks.size() * sub.repeats);
      for (const PlannedTask& t : w.tasks) {
        if (t.recreate_after_ms >= 0) creates += 2;
        effects += static_cast<double>(t.Effects().size());
      }
      const RunSize size = SizeOfRun(*s, load);
      EXPECT_EQ(size.tasks, static_cast<double>(w.tasks.size())) << f.path() << " " << load;
      EXPECT_EQ(size.creates, creates) << f.path() << " " << load;
      EXPECT_GE(size.effects, effects) << f.path() << " " << load;
      EXPECT_GT(size.polls, 0) << f.path();
      EXPECT_TRUE(CheckRunSize(*s, load).ok()) << f.path() << " at " << load << "x: every "
                                               << "shipped scenario fits the bound at 50x";
      ++judged;
    }
  }
  EXPECT_GE(judged, 18);
}

// Each product of bounded fields is refused up front with its computed total.
TEST(RunSize, EachTotalOverItsBoundIsRefusedWithTheTotal) {
  WorkloadSpec b;
  b.kind = "batch";
  b.tasks = 1'000'000;
  b.program = R"([{"exit":0}])";
  Scenario s = With(b);
  s.file = "big.yaml";
  EXPECT_TRUE(CheckRunSize(s, 1.0).ok());
  auto st = CheckRunSize(s, 10.0);
  EXPECT_NE(st.message().find("big.yaml: at --load 10x the run plans tasks: 10000000, over the "
                              "bound of 2000000"),
            std::string::npos)
      << st.message();

  WorkloadSpec r;
  r.kind = "rate";
  r.per_s = 1'000'000;
  r.until_ms = 30LL * 86'400 * 1000;
  r.program = R"([{"exit":0}])";
  st = CheckRunSize(With(r), 1.0);
  EXPECT_NE(st.message().find("plans tasks: 2592000000000"), std::string::npos) << st.message();

  WorkloadSpec c;  // 1000 appointments re-submitted every second for a day
  c.kind = "cron";
  c.tasks = 1000;
  c.every_ms = 1000;
  c.until_ms = 86'400'000;
  c.program = R"([{"exit":0}])";
  st = CheckRunSize(With(c), 1.0);
  EXPECT_NE(st.message().find("sends creates: 86401000,"), std::string::npos) << st.message();

  WorkloadSpec e = b;  // 10^6 tasks, 20 notifications each
  std::string program = "[";
  for (int k = 0; k < 20; ++k) program += R"({"effect":{"channel":"sms","to":"p"}},)";
  e.program = program + R"({"exit":0}])";
  st = CheckRunSize(With(e), 1.0);
  EXPECT_NE(st.message().find("may deliver effects: 20000000,"), std::string::npos)
      << st.message();

  WorkloadSpec late = b;  // few tasks, but 1000 workers polling for 30 days
  late.tasks = 1;
  late.at_ms = 30LL * 86'400 * 1000;
  Scenario idle = With(late);
  idle.workers = 1000;
  st = CheckRunSize(idle, 1.0);
  EXPECT_NE(st.message().find("makes worker polls (1000 workers over 2592600 s every 100 ms): "
                              "25926000000,"),
            std::string::npos)
      << st.message();
}

// The planner's expected outcome is its own small function (a second opinion), and it
// must agree with the one interpreter the worker and the simulator share: for every
// program of up to four steps from an alphabet that reaches every ending, with and without
// a memory budget, and 0, 1 or 3 retries, the planned outcome is what running the program
// run after run with worker::RunProgram gives; and the planned effects are exactly the
// ones some run (a retry or a rerun) can reach.
TEST(Workload, PlannedOutcomeAgreesWithTheSharedInterpreter) {
  struct AllOk final : worker::StepHost {
    std::set<size_t> effects;
    bool Wait(const worker::Step&) override { return true; }
    bool Allocate(const worker::Step&) override { return true; }
    bool Effect(size_t k, const worker::Step&) override {
      effects.insert(k);
      return true;
    }
  };
  const std::vector<std::string> alphabet = {
      R"({"sleep_ms":10})", R"({"alloc_mb":10})",         R"({"effect":{"channel":"sms","to":"p"}})",
      R"({"exit":0})",      R"({"exit":2})",              R"({"crash":9})",
      R"({"fail_if_attempt_below":2})", R"({"fail_if_attempt_below":3})",
      R"({"fail_if_attempt_below":5})"};
  int judged = 0;
  std::vector<size_t> digits;
  for (size_t length = 1; length <= 4; ++length) {
    digits.assign(length, 0);
    for (;;) {
      std::string steps;
      for (size_t k = 0; k < length; ++k) steps += (k ? "," : "") + alphabet[digits[k]];
      for (const std::string& text :
           {"[" + steps + "]", R"({"memory_limit_mb":15,"steps":[)" + steps + "]}"}) {
        auto program = worker::ParsePayload(text);
        ASSERT_TRUE(program.ok()) << text;
        for (int retries : {0, 1, 3}) {
          WorkloadSpec b;
          b.kind = "batch";
          b.tasks = 1;
          b.retries = retries;
          b.program = text;
          const PlannedTask t = PlanWorkload(With(b), 1.0).tasks.at(0);
          std::string outcome;
          AllOk host;
          std::set<size_t> reachable;
          for (uint32_t run = 0; run < engine::kMaxRunsPerTask; ++run) {
            AllOk this_run;
            auto end = worker::RunProgram(*program, run, this_run);
            ASSERT_TRUE(end.has_value());
            reachable.insert(this_run.effects.begin(), this_run.effects.end());
            if (!outcome.empty()) continue;
            if (end->state == engine::RunState::kCompleted) outcome = "completed";
            if (end->state == engine::RunState::kFailed) outcome = "failed";
            if (end->state == engine::RunState::kException && run == static_cast<uint32_t>(retries))
              outcome = "exception";
          }
          EXPECT_EQ(t.expect, outcome) << text << " retries " << retries;
          std::set<size_t> planned;
          for (const PlannedEffect& e : t.Effects()) planned.insert(static_cast<size_t>(e.step));
          EXPECT_EQ(planned, reachable) << text;
          ++judged;
        }
      }
      size_t k = 0;
      while (k < length && ++digits[k] == alphabet.size()) digits[k++] = 0;
      if (k == length) break;
    }
  }
  EXPECT_GT(judged, 40'000);
}

}  // namespace
}  // namespace ithappens::harness
