// Proves every rule of the task-model checker on hand-built histories: a history that keeps
// the queue's rules is valid, and the same history with one acknowledged answer the rules
// forbid is invalid with that rule's reason. `info` answers are taken either way.
#include <gtest/gtest.h>

#include "harness/checker.h"
#include "tests/testing/history_fixtures.h"

namespace ithappens::harness {
namespace {

using nlohmann::json;
using testing::HistoryBuilder;
using T = EventType;

// A history of one task "A" (retries 2), told call by call. Times: event i at i ms unless
// At() moves it; leases and final times are on the same clock.
class Story {
 public:
  // With a claim timeout the lease rules judge too (leases must then be what the platform
  // would hand out: the answer's time plus the timeout).
  explicit Story(int64_t claim_timeout_ms = 0) {
    if (claim_timeout_ms > 0)
      Add("plan", T::kPlan, "target", "", {{"claim_timeout_ms", claim_timeout_ms}});
    h_.Plan("A", "completed", {{"retries", 2}});
  }
  // One event, at as many ms as events came before it.
  void Add(std::string proc, T type, std::string f, std::string task, json value = json(),
           std::string error = "") {
    h_.Add(std::move(proc), type, std::move(f), std::move(task), std::move(value),
           std::move(error));
    h_.AtMs(static_cast<int64_t>(h_.events().size()) - 1);
  }
  Story& Create(const std::string& digest, T answer = T::kOk, const std::string& error = "") {
    Add("client-0", T::kInvoke, "create", "A", {{"digest", digest}, {"retries", 2}});
    Add("client-0", answer, "create", "A", answer == T::kOk ? json{{"task_id", "A"}} : json(),
        error);
    return *this;
  }
  Story& Claim(const std::string& worker, int run, int64_t lease_ms, int n = 1) {
    Add(worker, T::kInvoke, "claim", "", {{"n", n}});
    Add(worker, T::kOk, "claim", "",
        {{"runs", {{{"task", "A"}, {"run", run}, {"taken_until_ms", lease_ms}}}}});
    return *this;
  }
  Story& Call(const std::string& worker, const std::string& f, int run, T answer = T::kOk,
              json extra = json::object(), const std::string& error = "") {
    extra["run"] = run;
    Add(worker, T::kInvoke, f, "A", extra);
    Add(worker, answer, f, "A", extra, error);
    return *this;
  }
  Story& Reclaim(const std::string& worker, int run, int64_t lease_ms, T answer = T::kOk) {
    Add(worker, T::kInvoke, "reclaim", "A", {{"run", run}});
    Add(worker, answer, "reclaim", "A",
        answer == T::kOk ? json{{"run", run}, {"taken_until_ms", lease_ms}} : json{{"run", run}},
        answer == T::kOk ? "" : "FAILED_PRECONDITION: not yours");
    return *this;
  }
  Story& Intermittent(const std::string& worker, int run) {
    return Call(worker, "report-exception", run, T::kOk, {{"reason", "intermittent-task"}});
  }
  Story& Client(const std::string& f, T answer = T::kOk) {
    Add("client-0", T::kInvoke, f, "A");
    Add("client-0", answer, f, "A");
    return *this;
  }
  Story& Fault(const std::string& kind, const std::string& target, bool start) {
    Add("nemesis", T::kFault, kind + (start ? "-start" : "-stop"), "",
        target.empty() ? json::object() : json{{"target", target}});
    return *this;
  }
  // Moves the last event to ms.
  Story& At(int64_t ms) {
    h_.AtMs(ms);
    return *this;
  }
  Story& Final(const std::string& state, json runs, int64_t deadline_ms = 1'000'000) {
    h_.Final("A", state, runs, {{"deadline_ms", deadline_ms}});
    h_.AtMs(static_cast<int64_t>(h_.events().size()) - 1);
    return *this;
  }
  CheckResult Check() const {
    for (auto& r : CheckEvents(h_.events()))
      if (r.checker == "task-model") return r;
    throw std::runtime_error("no task-model checker");
  }

 private:
  HistoryBuilder h_;
};

json RunOf(const std::string& state, const std::string& created, const std::string& resolved,
           int64_t started, int64_t resolved_ms, const std::string& worker = "worker-0") {
  return {{"state", state},   {"reason_created", created}, {"reason_resolved", resolved},
          {"worker", worker}, {"started_ms", started},     {"resolved_ms", resolved_ms}};
}

void ExpectValid(const Story& s) {
  CheckResult r = s.Check();
  EXPECT_EQ(r.valid, Validity::kValid)
      << (r.counterexamples.empty() ? r.error : r.counterexamples[0].explanation);
}

void ExpectFlagged(const Story& s, const std::string& reason) {
  CheckResult r = s.Check();
  ASSERT_EQ(r.valid, Validity::kInvalid) << "expected: " << reason;
  ASSERT_FALSE(r.counterexamples.empty());
  EXPECT_NE(r.counterexamples[0].explanation.find(reason), std::string::npos)
      << r.counterexamples[0].explanation;
  EXPECT_FALSE(r.counterexamples[0].events.empty());
}

// A completed task: created, claimed, reported, final.
Story Completed() {
  Story s;
  s.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  s.Final("completed", {RunOf("completed", "scheduled", "completed", 5, 9)});
  return s;
}

TEST(TaskModel, AHistoryThatKeepsTheRulesIsValid) { ExpectValid(Completed()); }

TEST(TaskModel, CreateOkWithAnotherDefinition) {
  Story good;
  good.Create("d1").Create("d1").Create("d2", T::kFail, "ALREADY_EXISTS: deadline differs");
  ExpectValid(good);
  Story bad;
  bad.Create("d1").Create("d2");
  ExpectFlagged(bad, "differs from the stored one");
}

TEST(TaskModel, InfoCreatesAreTakenEitherWay) {
  Story either;  // d1 may not have landed: d2 may be the stored definition
  either.Create("d1", T::kInfo, "DEADLINE_EXCEEDED: lost").Create("d2");
  ExpectValid(either);
  Story then;  // but once d2 was acknowledged, it is the one
  then.Create("d1", T::kInfo, "DEADLINE_EXCEEDED: lost").Create("d2").Create("d1");
  ExpectFlagged(then, "differs from the stored one");
}

TEST(TaskModel, IdenticalReCreateRefused) {
  Story bad;
  bad.Create("d1").Create("d1", T::kFail, "ALREADY_EXISTS: first difference: created");
  ExpectFlagged(bad, "an identical re-create was refused");
}

TEST(TaskModel, ClaimBeyondItsAsk) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000, /*n=*/0);
  ExpectFlagged(bad, "asked for 0 runs and got 1");
}

TEST(TaskModel, ClaimOfATaskNobodyCreated) {
  HistoryBuilder h;
  h.Add("worker-0", T::kInvoke, "claim", "", {{"n", 1}});
  h.Add("worker-0", T::kOk, "claim", "", {{"runs", {{{"task", "Z"}, {"run", 0}}}}});
  auto rs = CheckEvents(h.events());
  bool flagged = false;
  for (auto& r : rs)
    flagged |= r.checker == "task-model" && r.valid == Validity::kInvalid &&
               r.counterexamples[0].explanation.find("nobody created") != std::string::npos;
  EXPECT_TRUE(flagged);
}

TEST(TaskModel, RunHandedOutTwice) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Claim("worker-1", 0, 2000);
  ExpectFlagged(bad, "run 0 was handed out twice: to worker-0, then to worker-1");
}

TEST(TaskModel, NewRunWhileTheLeaseLived) {
  // Claim timeout 1000 ms. Events are at their index in ms: the plans are events 0-1, the
  // create 2-3, so the first claim is answered at 5 ms and leases until 1005 ms.
  Story bad(1000);
  bad.Create("d1").Claim("worker-0", 0, 1005).Claim("worker-1", 1, 1007);
  ExpectFlagged(bad, "while run 0's lease");
  Story good(1000);  // run 1 is claimed at 2001 ms, after the reclaimed lease (1007 ms) ended
  good.Create("d1").Claim("worker-0", 0, 1005).Reclaim("worker-0", 0, 1007);
  good.Claim("worker-1", 1, 3001).At(2001);
  ExpectValid(good);
  Story reported(1000);  // the holder reported: the run may have ended before its lease
  reported.Create("d1").Claim("worker-0", 0, 1005).Intermittent("worker-0", 0);
  reported.Claim("worker-1", 1, 1009);
  ExpectValid(reported);
}

TEST(TaskModel, ClaimAfterAnAcknowledgedCancel) {
  Story bad;
  bad.Create("d1").Client("cancel").Claim("worker-0", 0, 1000);
  ExpectFlagged(bad, "after the task's cancel was acknowledged");
  Story rerun;
  rerun.Create("d1").Client("cancel").Client("rerun").Claim("worker-0", 1, 1000);
  EXPECT_EQ(rerun.Check().counterexamples.size(), 0u);
}

TEST(TaskModel, ReclaimByAnotherWorkerOrOfAnEndedRun) {
  Story other;
  other.Create("d1").Claim("worker-0", 0, 1000).Reclaim("worker-1", 0, 2000);
  ExpectFlagged(other, "the run is held by worker-0");
  Story ended;
  ended.Create("d1")
      .Claim("worker-0", 0, 10)
      .Claim("worker-1", 1, 2000)
      .Reclaim("worker-0", 0, 3000);
  ExpectFlagged(ended, "after the run had ended");
  Story resolved;
  resolved.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  resolved.Reclaim("worker-0", 0, 3000);
  ExpectFlagged(resolved, "after the run was resolved as completed");
  Story refused;  // a refused late reclaim is what the rules ask for
  refused.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  refused.Reclaim("worker-0", 0, 0, T::kFail);
  refused.Final("completed", {RunOf("completed", "scheduled", "completed", 5, 9)});
  ExpectValid(refused);
}

TEST(TaskModel, ReportFromAWorkerThatDoesNotHoldTheRun) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Call("worker-1", "report-completed", 0);
  ExpectFlagged(bad, "the run is held by worker-0");
}

TEST(TaskModel, ReportAcknowledgedAfterTheRunEnded) {
  Story bad;  // run 0 expired, run 1 was handed out; then run 0's late report is accepted
  bad.Create("d1").Claim("worker-0", 0, 10).Claim("worker-1", 1, 2000);
  bad.Call("worker-0", "report-completed", 0);
  ExpectFlagged(bad, "after the run had ended");
  Story repeat;  // a repeat of a report sent before the next run existed is fine
  repeat.Create("d1").Claim("worker-0", 0, 1000).Intermittent("worker-0", 0);
  repeat.Claim("worker-1", 1, 3000).Intermittent("worker-0", 0);
  EXPECT_EQ(repeat.Check().counterexamples.size(), 0u);
}

// A lease that ran out ended the run, even when no next run shows it (retries 0, or the
// retry not claimed yet): a report or reclaim sent more than the reaper's slack after it
// must be refused. Not judged when a reclaim's answer was lost (the lease may have been
// extended), nor for a repeat of a report first sent in time.
TEST(TaskModel, ReportAcknowledgedAfterTheLeaseRanOut) {
  // Sends f for run 0 at 5 s (the invoke and its answer).
  auto late = [](Story& s, const std::string& f, T answer, json value) {
    s.Add("worker-0", T::kInvoke, f, "A", {{"run", 0}});
    s.At(5'000);
    s.Add("worker-0", answer, f, "A", value);
    s.At(5'001);
  };
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 100);
  late(bad, "report-completed", T::kOk, {{"run", 0}});
  ExpectFlagged(bad, "the run's lease had ended at 100 ms and nothing extended it");
  Story reclaim;
  reclaim.Create("d1").Claim("worker-0", 0, 100);
  late(reclaim, "reclaim", T::kOk, {{"run", 0}, {"taken_until_ms", 9'000}});
  ExpectFlagged(reclaim, "a reclaim of run 0 sent at 5000 ms was acknowledged");
  Story extended;  // the lease was extended in time: a report at 5 s is in its lease
  extended.Create("d1").Claim("worker-0", 0, 100).Reclaim("worker-0", 0, 9'000);
  late(extended, "report-completed", T::kOk, {{"run", 0}});
  EXPECT_TRUE(extended.Check().counterexamples.empty());
  Story unknown;  // a reclaim of unknown outcome may have extended it
  unknown.Create("d1").Claim("worker-0", 0, 100).Reclaim("worker-0", 0, 0, T::kInfo);
  late(unknown, "report-completed", T::kOk, {{"run", 0}});
  EXPECT_TRUE(unknown.Check().counterexamples.empty());
  Story repeat;  // first sent in time, its answer lost, repeated later: idempotent
  repeat.Create("d1").Claim("worker-0", 0, 100);
  repeat.Call("worker-0", "report-completed", 0, T::kInfo);
  late(repeat, "report-completed", T::kOk, {{"run", 0}});
  EXPECT_TRUE(repeat.Check().counterexamples.empty());
}

TEST(TaskModel, ReportAcknowledgedAfterACancel) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Client("cancel");
  bad.Call("worker-0", "report-completed", 0);
  ExpectFlagged(bad, "after the task's cancel was");
}

TEST(TaskModel, OneRunResolvedTwoWays) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  bad.Call("worker-0", "report-failed", 0);
  ExpectFlagged(bad, "run 0 was resolved twice: completed, then failed");
}

TEST(TaskModel, RepeatOfAnAcknowledgedReportRefused) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  bad.Call("worker-0", "report-completed", 0, T::kFail, json::object(),
           "FAILED_PRECONDITION: run 0 is completed");
  ExpectFlagged(bad, "the repeat of an acknowledged report");
}

TEST(TaskModel, EveryRunHasItsCause) {
  Story retry_after_completed = Completed();
  retry_after_completed.Final("completed", {RunOf("completed", "scheduled", "completed", 5, 9),
                                            RunOf("completed", "retry", "completed", 10, 12)});
  ExpectFlagged(retry_after_completed, "run 1 was created as 'retry' after completed");
  Story rerun_unasked;
  rerun_unasked.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-failed", 0);
  rerun_unasked.Final("pending", {RunOf("failed", "scheduled", "failed", 5, 9),
                                  RunOf("pending", "rerun", "", 0, 0)});
  ExpectFlagged(rerun_unasked, "although nobody asked for a rerun");
  Story first_as_retry;
  first_as_retry.Create("d1").Final("pending", {RunOf("pending", "retry", "", 0, 0)});
  ExpectFlagged(first_as_retry, "the first run was created as 'retry'");
  Story task_retry_after_expiry;
  task_retry_after_expiry.Create("d1").Fault("worker-crash", "worker-0", true);
  task_retry_after_expiry.Final("pending", {RunOf("exception", "scheduled", "claim-expired", 5, 9),
                                            RunOf("pending", "task-retry", "", 0, 0)});
  ExpectFlagged(task_retry_after_expiry, "'task-retry' after exception/claim-expired");
}

TEST(TaskModel, NoMoreAutomaticRetriesThanTheDefinitionAllows) {
  Story s;
  s.Create("d1");
  json runs = json::array();
  for (int k = 0; k < 4; ++k) {
    s.Claim("worker-0", k, 100'000 + k).Intermittent("worker-0", k);
    runs.push_back(RunOf("exception", k == 0 ? "scheduled" : "task-retry", "intermittent-task",
                         10 + k, 20 + k));
  }
  s.Final("exception", runs);
  ExpectFlagged(s, "3 automatic retries; the definition allows 2");
}

TEST(TaskModel, ARetryableExceptionWithRetriesLeftIsRetried) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Intermittent("worker-0", 0);
  bad.Final("exception", {RunOf("exception", "scheduled", "intermittent-task", 5, 9)});
  ExpectFlagged(bad, "with 2 retries left, and no new run was made");
}

TEST(TaskModel, EveryOutcomeHasItsCause) {
  Story unreported;  // failed, but the worker reported nothing of the kind
  unreported.Create("d1").Claim("worker-0", 0, 1000);
  unreported.Final("failed", {RunOf("failed", "scheduled", "failed", 5, 9)});
  ExpectFlagged(unreported, "no report of that run said so");
  Story uncanceled;
  uncanceled.Create("d1").Final("exception", {RunOf("exception", "exception", "canceled", 5, 5)});
  ExpectFlagged(uncanceled, "nobody sent a cancel");
  Story canceled;
  canceled.Create("d1").Client("cancel");
  canceled.Final("exception", {RunOf("exception", "exception", "canceled", 5, 5)});
  ExpectValid(canceled);
  Story early_deadline;
  early_deadline.Create("d1").Final(
      "exception", {RunOf("exception", "exception", "deadline-exceeded", 5, 500)}, 600);
  ExpectFlagged(early_deadline, "before the deadline at 600 ms");
}

TEST(TaskModel, AnExpiredLeaseNeedsAFaultThatExplainsIt) {
  auto expired = [](bool with_fault, int64_t resolved_ms) {
    Story s;
    // The holder asks to keep it in time (at 5 ms of a lease to 1000 ms), and is refused.
    s.Create("d1").Claim("worker-0", 0, 1000).Reclaim("worker-0", 0, 0, T::kFail);
    if (with_fault)
      s.Fault("worker-pause", "worker-0", true).Fault("worker-pause", "worker-0", false);
    s.Claim("worker-1", 1, 5000).Call("worker-1", "report-completed", 1);
    s.Final("completed", {RunOf("exception", "scheduled", "claim-expired", 3, resolved_ms),
                          RunOf("completed", "retry", "completed", 4100, 4200, "worker-1")});
    return s;
  };
  ExpectFlagged(expired(false, 1000), "which no fault touched");
  ExpectValid(expired(true, 1000));
  ExpectFlagged(expired(true, 900), "but its lease lasted until 1000 ms");
}

// A holder that did not ask to keep its run in time let its lease lapse: the expiry is
// the protocol working (a worker starved of CPU in real mode is late), not a
// misattribution. In time means before the lease's last quarter: a renewal sent in its
// last moments may arrive after it.
TEST(TaskModel, ALeaseItsHolderDidNotRenewInTimeMayExpire) {
  auto expired = [](int64_t reclaim_sent_ms) {
    Story s;
    s.Create("d1").Claim("worker-0", 0, 1000);  // the claim was sent at 3 ms
    if (reclaim_sent_ms >= 0) s.Reclaim("worker-0", 0, 0, T::kFail);
    if (reclaim_sent_ms >= 0) s.At(reclaim_sent_ms + 1);
    s.Claim("worker-1", 1, 5000).Call("worker-1", "report-completed", 1);
    s.Final("completed", {RunOf("exception", "scheduled", "claim-expired", 3, 1000),
                          RunOf("completed", "retry", "completed", 4100, 4200, "worker-1")});
    return s;
  };
  ExpectValid(expired(-1));  // never renewed
  ExpectFlagged(expired(500), "which no fault touched");  // renewed early (at 5 ms)
  // The reclaim's invoke is the event before the last moved one: a story moves only the
  // last event, so a late renewal is written as a reclaim whose answer comes late.
  Story late;
  late.Create("d1").Claim("worker-0", 0, 1000);
  late.Add("worker-0", T::kInvoke, "reclaim", "A", {{"run", 0}});
  late.At(900);  // sent in the lease's last quarter
  late.Add("worker-0", T::kFail, "reclaim", "A", {{"run", 0}}, "FAILED_PRECONDITION: expired");
  late.At(1100);
  late.Claim("worker-1", 1, 5000).At(1200);
  late.Call("worker-1", "report-completed", 1).At(1300);
  late.Final("completed", {RunOf("exception", "scheduled", "claim-expired", 3, 1000),
                           RunOf("completed", "retry", "completed", 1200, 1300, "worker-1")});
  ExpectValid(late);
}

TEST(TaskModel, AFaultOnAnotherWorkerExplainsNothing) {
  Story s;
  s.Create("d1").Claim("worker-0", 0, 1000).Reclaim("worker-0", 0, 0, T::kFail);
  s.Fault("worker-crash", "worker-3", true).Fault("worker-crash", "worker-3", false);
  s.Claim("worker-1", 1, 5000).Call("worker-1", "report-completed", 1);
  s.Final("completed", {RunOf("exception", "scheduled", "claim-expired", 3, 1000),
                        RunOf("completed", "retry", "completed", 4100, 4200, "worker-1")});
  ExpectFlagged(s, "which no fault touched");
}

TEST(TaskModel, AnAcknowledgedReportTakesEffect) {
  Story bad;
  bad.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  bad.Fault("worker-crash", "worker-0", true);
  bad.Final("exception", {RunOf("exception", "scheduled", "claim-expired", 3, 1000),
                          RunOf("pending", "retry", "", 0, 0)});
  ExpectFlagged(bad, "was acknowledged, but the run ended as exception/claim-expired");
}

TEST(TaskModel, TheFinalStatusHasEveryRunHandedOut) {
  Story missing;
  missing.Create("d1").Claim("worker-0", 0, 1000).Final("pending", json::array());
  ExpectFlagged(missing, "run 0 was handed out, but the final status has 0 runs");
  Story other_worker;
  other_worker.Create("d1").Claim("worker-0", 0, 1000).Call("worker-0", "report-completed", 0);
  other_worker.Final("completed", {RunOf("completed", "scheduled", "completed", 5, 9, "worker-7")});
  ExpectFlagged(other_worker, "the final status names worker 'worker-7'");
}

TEST(TaskModel, ACanceledTaskIsResolved) {
  Story bad;
  bad.Create("d1").Client("cancel").Final("unscheduled", json::array());
  ExpectFlagged(bad, "the cancel was acknowledged, but the task is still unscheduled");
}

TEST(TaskModel, ALeaseLastsTheClaimTimeout) {
  // Claim timeout 1000 ms; the claim is sent at 4 ms and answered at 5 ms.
  Story good(1000);
  good.Create("d1").Claim("worker-0", 0, 1005);
  ExpectValid(good);
  Story long_lease(1000);
  long_lease.Create("d1").Claim("worker-0", 0, 5000);
  ExpectFlagged(long_lease, "leased the run until 5000 ms; the claim timeout is 1000 ms");
  Story short_reclaim(1000);  // a reclaim answered at 7 ms that did not extend the lease
  short_reclaim.Create("d1").Claim("worker-0", 0, 1005).Reclaim("worker-0", 0, 1005);
  ExpectFlagged(short_reclaim, "a reclaim answered between 6 and 7 ms");
}

TEST(TaskModel, LeasesAndDeadlinesEndOnTime) {
  Story late_expiry;  // the lease ended at 1003 ms; the run expired at 9000 ms, nothing down
  late_expiry.Create("d1").Claim("worker-0", 0, 1003).Fault("worker-crash", "worker-0", true);
  late_expiry.Claim("worker-1", 1, 10'000).Call("worker-1", "report-completed", 1);
  late_expiry.Final("completed",
                    {RunOf("exception", "scheduled", "claim-expired", 3, 9000),
                     RunOf("completed", "retry", "completed", 9000, 9100, "worker-1")});
  ExpectFlagged(late_expiry, "more than 2000 ms after its lease ended");
  Story late_deadline;
  late_deadline.Create("d1").Final(
      "exception", {RunOf("exception", "exception", "deadline-exceeded", 0, 9000)}, 600);
  ExpectFlagged(late_deadline, "more than 2000 ms after the deadline");
  Story excused;  // the engine was down when the deadline passed
  excused.Create("d1").Fault("engine-crash", "", true).Fault("engine-crash", "", false).At(8000);
  excused.Final("exception", {RunOf("exception", "exception", "deadline-exceeded", 0, 9000)}, 600);
  ExpectValid(excused);
}

// Two tasks without dependencies, "H" (high) and "L" (low), both acknowledged before any
// claim; a claim hands out one, a later claim the other.
std::vector<Event> TwoPriorities(const std::string& first) {
  HistoryBuilder h;
  int64_t ms = 0;
  auto add = [&](std::string proc, T type, std::string f, std::string task, json v) {
    h.Add(std::move(proc), type, std::move(f), std::move(task), std::move(v));
    h.AtMs(ms++);
  };
  add("plan", T::kPlan, "target", "", {{"claim_timeout_ms", 1000}});
  for (const char* t : {"H", "L"})
    add("plan", T::kPlan, "task", t,
        {{"expect", "completed"}, {"deps", json::array()}, {"effects", json::array()}});
  for (auto [t, p] : {std::pair{"H", "high"}, {"L", "low"}}) {
    add("client-0", T::kInvoke, "create", t, {{"digest", t}, {"priority", p}, {"retries", 1}});
    add("client-0", T::kOk, "create", t, {{"task_id", t}});
  }
  const std::string second = first == "H" ? "L" : "H";
  for (const std::string& t : {first, second}) {
    add("worker-0", T::kInvoke, "claim", "", {{"n", 1}});
    add("worker-0", T::kOk, "claim", "", {{"runs", {{{"task", t}, {"run", 0}}}}});
  }
  return h.events();
}

// A bound probe: a create at a bound must be accepted, one past it refused.
TEST(TaskModel, BoundProbesAreAnsweredAsTheBoundsSay) {
  auto probe = [](const char* kind, T answer, const std::string& error = "") {
    HistoryBuilder h;
    h.Add("client-0", T::kInvoke, "create", "P",
          {{"digest", "d1"}, {"retries", 50}, {"probe", kind}, {"bound", "retries 50"}});
    h.Add("client-0", answer, "create", "P", answer == T::kOk ? json{{"task_id", "P"}} : json(),
          error);
    for (auto& r : CheckEvents(h.events()))
      if (r.checker == "task-model") return r;
    throw std::runtime_error("no task-model");
  };
  EXPECT_EQ(probe("refuse", T::kFail, "INVALID_ARGUMENT: retries: 50 is outside 0..49").valid,
            Validity::kValid);
  CheckResult accepted = probe("refuse", T::kOk);
  ASSERT_EQ(accepted.valid, Validity::kInvalid);
  EXPECT_NE(accepted.counterexamples[0].explanation.find("past a bound was acknowledged"),
            std::string::npos);
  EXPECT_EQ(probe("accept", T::kOk).valid, Validity::kValid);
  CheckResult refused = probe("accept", T::kFail, "INVALID_ARGUMENT: retries");
  ASSERT_EQ(refused.valid, Validity::kInvalid);
  EXPECT_NE(refused.counterexamples[0].explanation.find("at a bound was refused (retries 50)"),
            std::string::npos);
}

TEST(TaskModel, TheHighestPriorityIsServedFirst) {
  auto model = [](const std::vector<Event>& events) {
    for (auto& r : CheckEvents(events))
      if (r.checker == "task-model") return r;
    throw std::runtime_error("no task-model");
  };
  EXPECT_EQ(model(TwoPriorities("H")).valid, Validity::kValid);
  CheckResult r = model(TwoPriorities("L"));
  ASSERT_EQ(r.valid, Validity::kInvalid);
  EXPECT_NE(r.counterexamples[0].explanation.find("handed out L, which ranks below it"),
            std::string::npos)
      << r.counterexamples[0].explanation;
}

}  // namespace
}  // namespace ithappens::harness
