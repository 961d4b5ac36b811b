// Proves, over random workloads and random fault schedules, that the correct engine passes
// every checker in the simulator (>= 100 cases), and that with a bug switch on RapidCheck
// finds a failing schedule and shrinks it; the minimal schedule is printed.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <sstream>

#include "harness/checker.h"
#include "harness/sim/sim.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::harness {

// A generated case, small enough to read when RapidCheck prints the shrunk one.
struct GenWorkload {
  int program = 0;  // index into kPrograms
  int tasks = 1;
  int at_s = 0;
  int chain_length = 1;
  bool fail_root = false;
  bool fanout = false;  // a root, chain_length children, a join
  bool hook = false;    // `tasks` engine hooks firing every minute for 3 minutes
};
struct GenFault {
  int kind = 0;  // index into FaultCatalogue()
  int target = 0;
  int at_s = 0;
  int duration_s = 1;
  int chance = 0;  // fsync-error, write-error, flaky-network: default, 0.3 or 0.05
};
struct GenCase {
  int workers = 1;
  int capacity = 1;
  std::vector<GenWorkload> workload;
  std::vector<GenFault> faults;
};

namespace {
const char* const kPrograms[] = {
    R"([{"sleep_ms":2000},{"effect":{"channel":"sms","to":"patient-{i}"}},{"exit":0}])",
    R"([{"sleep_ms":300},{"exit":3}])",
    R"([{"fail_if_attempt_below":2},{"effect":{"channel":"email","to":"ops-{i}"}}])",
    R"([{"sleep_ms":45000},{"exit":0}])",
};
// Every fault kind of the catalogue (harness/faults): a new kind is in the property at once.
const int kFaultKinds = static_cast<int>(FaultCatalogue().size());
std::string FaultName(int kind) { return std::string(FaultCatalogue()[kind].name); }
}  // namespace

void showValue(const GenCase& c, std::ostream& os) {
  os << "workers=" << c.workers << " capacity=" << c.capacity << "\n";
  for (const auto& w : c.workload) {
    os << "  workload: "
       << (w.hook               ? std::string("hook every minute for 180s")
           : w.fanout           ? "fanout x" + std::to_string(w.chain_length)
           : w.chain_length > 1 ? "chain x" + std::to_string(w.chain_length)
                                : "batch")
       << " tasks=" << w.tasks << " at=" << w.at_s << "s" << (w.fail_root ? " fail_root" : "")
       << " program=" << kPrograms[w.program] << "\n";
  }
  for (const auto& f : c.faults) {
    os << "  fault: " << FaultName(f.kind) << " target=" << f.target << " at=" << f.at_s << "s for "
       << f.duration_s << "s" << (f.chance ? f.chance == 1 ? " p=0.3" : " p=0.05" : "") << "\n";
  }
}

namespace {

// fault_kind < 0: any kind; else only that kind, lasting at least min_duration_s.
rc::Gen<GenCase> GenCases(int fault_kind = -1, int min_duration_s = 1) {
  return rc::gen::mapcat(
      rc::gen::pair(rc::gen::inRange(1, 4), rc::gen::inRange(1, 4)), [=](std::pair<int, int> wc) {
        auto workload = rc::gen::build<GenWorkload>(
            rc::gen::set(&GenWorkload::program, rc::gen::inRange(0, 4)),
            rc::gen::set(&GenWorkload::tasks, rc::gen::inRange(1, 12)),
            rc::gen::set(&GenWorkload::at_s, rc::gen::inRange(0, 30)),
            rc::gen::set(&GenWorkload::chain_length, rc::gen::inRange(1, 4)),
            rc::gen::set(&GenWorkload::fail_root, rc::gen::arbitrary<bool>()),
            rc::gen::set(&GenWorkload::fanout, rc::gen::arbitrary<bool>()),
            // A quarter of the workloads are hooks; shrinking leans to plain tasks.
            rc::gen::set(&GenWorkload::hook, rc::gen::element(false, false, false, true)));
        auto kinds = fault_kind < 0 ? rc::gen::inRange(0, kFaultKinds) : rc::gen::just(fault_kind);
        auto fault = rc::gen::build<GenFault>(
            rc::gen::set(&GenFault::kind, kinds),
            rc::gen::set(&GenFault::target, rc::gen::inRange(0, wc.first)),
            rc::gen::set(&GenFault::at_s, rc::gen::inRange(0, 60)),
            rc::gen::set(&GenFault::duration_s, rc::gen::inRange(min_duration_s, 120)),
            rc::gen::set(&GenFault::chance, rc::gen::element(0, 1, 2)));
        return rc::gen::build<GenCase>(
            rc::gen::set(&GenCase::workers, rc::gen::just(wc.first)),
            rc::gen::set(&GenCase::capacity, rc::gen::just(wc.second)),
            rc::gen::set(
                &GenCase::workload,
                rc::gen::resize(
                    4, rc::gen::nonEmpty(rc::gen::container<std::vector<GenWorkload>>(workload)))),
            rc::gen::set(&GenCase::faults,
                         rc::gen::resize(5, rc::gen::container<std::vector<GenFault>>(fault))));
      });
}

Scenario ToScenario(const GenCase& c) {
  Scenario s;
  s.name = "property";
  s.seed = 3;
  s.workers = c.workers;
  s.capacity = c.capacity;
  s.clients = 2;
  s.claim_timeout_ms = 20'000;
  s.heal_ms = 3'600'000;
  for (const auto& w : c.workload) {
    WorkloadSpec spec;
    spec.kind = w.hook ? "hook" : w.fanout ? "fanout" : w.chain_length > 1 ? "chain" : "batch";
    if (w.hook) {
      spec.schedule = "* * * * *";
      spec.until_ms = (w.at_s + 180) * 1000LL;
    }
    spec.tasks = w.tasks;
    spec.length = w.chain_length;
    spec.fail_root = w.fail_root && (w.fanout || w.chain_length > 1);
    spec.at_ms = w.at_s * 1000LL;
    spec.program = kPrograms[w.program];
    s.workload.push_back(spec);
  }
  for (const auto& f : c.faults) {
    FaultSpec spec;
    spec.kind = FaultName(f.kind);
    switch (FaultCatalogue()[f.kind].target) {
      case FaultTarget::kNone:
        break;
      case FaultTarget::kWorker:
      case FaultTarget::kWorkerOrAll:
        spec.target = "worker-" + std::to_string(f.target);
        break;
      case FaultTarget::kProcOrAll:
        spec.target = f.target % 2 ? "all" : "client-0";
        break;
    }
    spec.at_ms = f.at_s * 1000LL;
    spec.duration_ms = f.duration_s * 1000LL;
    const double standard = FaultCatalogue()[f.kind].default_probability;
    spec.probability = standard > 0 ? standard : 1.0;
    if (standard > 0 && f.chance > 0) spec.probability = f.chance == 1 ? 0.3 : 0.05;
    s.faults.push_back(spec);
  }
  return s;
}

// "" when every checker holds, else the first violation.
std::string Violation(const GenCase& c, std::string_view bug) {
  Scenario s = ToScenario(c);
  testing::TempDir dir;
  SimOptions o{&s, 3, 1.0, {}, (dir.path() / "h.jsonl").string()};
  if (!bug.empty()) (void)engine::EnableBugSwitch(bug, &o.bugs);
  auto sum = RunSimulation(o);
  if (!sum.ok()) return "harness: " + sum.status().ToString();
  std::string error;
  for (const auto& r : CheckHistoryFile(o.history_path, &error)) {
    if (r.valid != Validity::kValid) {
      return r.checker + ": " +
             (r.counterexamples.empty() ? r.error : r.counterexamples[0].explanation);
    }
  }
  return "";
}

RC_GTEST_PROP(SimProperty, CorrectEnginePassesEveryCheckerUnderRandomFaults, ()) {
  GenCase c = *GenCases();
  std::string v = Violation(c, "");
  const bool hooks = std::any_of(c.workload.begin(), c.workload.end(),
                                 [](const GenWorkload& w) { return w.hook; });
  RC_TAG(c.faults.empty() ? "no faults" : "faults", hooks ? "hooks" : "no hooks");
  if (!v.empty()) RC_FAIL(v);
}

// With a bug on, the same property must be falsified; RapidCheck shrinks the schedule and
// this test prints the minimal one it found.
void ExpectFoundAndShrunk(const char* bug, int fault_kind = -1, int min_duration_s = 1) {
  std::ostringstream log;
  std::streambuf* saved = std::cerr.rdbuf(log.rdbuf());
  bool holds = rc::check(std::string("no violation with ") + bug, [=] {
    GenCase c = *GenCases(fault_kind, min_duration_s);
    std::string v = Violation(c, bug);
    if (!v.empty()) RC_FAIL(v);
  });
  std::cerr.rdbuf(saved);
  EXPECT_FALSE(holds) << bug << ": RapidCheck found no failing schedule";
  std::string out = log.str();
  EXPECT_NE(out.find("Falsifiable"), std::string::npos) << out;
  std::cout << "minimal failing schedule for " << bug << ":\n"
            << out.substr(out.find("Falsifiable")) << "\n";
}

TEST(SimProperty, NoClaimExpiryIsFoundAndShrunk) { ExpectFoundAndShrunk("no-claim-expiry"); }
// A stale report needs a worker that freezes past its lease while holding a task: search
// among pause schedules (kind 1) longer than the 20 s lease.
TEST(SimProperty, NoFencingIsFoundAndShrunk) { ExpectFoundAndShrunk("no-fencing", 1, 25); }

}  // namespace
}  // namespace ithappens::harness
