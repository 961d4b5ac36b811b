// Changes driven by time: expired leases (the claim-expiry reaper), deadlines, hook fires.
// Due leases and deadlines are processed in time order, deadlines first on a tie.
#include "engine/core/queue_impl.h"

namespace ithappens::engine {
namespace {
constexpr int kMaxHookWalkSteps = 10'000;
}  // namespace

void QueueImpl::ProcessDueLocked(TickCounts* counts) {
  const TimeMs now = clock_->NowMs();
  const bool reap = !options_.bugs.no_claim_expiry;
  while (true) {
    const TimeMs lag_ms = options_.bugs.late_expiry ? 30'000 : 0;
    bool lease_due = reap && !leases_.empty() && leases_.top().at_ms + lag_ms <= now;
    bool deadline_due = !deadlines_.empty() && deadlines_.top().at_ms <= now;
    if (!lease_due && !deadline_due) return;
    if (deadline_due && (!lease_due || deadlines_.top().at_ms <= leases_.top().at_ms)) {
      TimedRef ref = deadlines_.top();
      deadlines_.pop();
      TaskEntry& e = tasks_[ref.task];
      TaskState s = e.state();
      if (IsResolved(s)) continue;
      if (s == TaskState::kUnscheduled && options_.bugs.no_deadline_when_blocked) continue;
      if (s == TaskState::kUnscheduled) {
        AddExceptionRunUnscheduled(ref.task, ReasonResolved::kDeadlineExceeded);
      } else {
        ResolveRun(ref.task, RunState::kException, ReasonResolved::kDeadlineExceeded);
      }
      if (counts) counts->deadlines_exceeded++;
    } else {
      TimedRef ref = leases_.top();
      leases_.pop();
      TaskEntry& e = tasks_[ref.task];
      // Lazy deletion: the entry is stale unless it is still the current run's lease.
      if (ref.run_id + 1 != e.runs.size()) continue;
      const Run& run = e.runs.back();
      if (run.state != RunState::kRunning || run.taken_until_ms != ref.at_ms) continue;
      ResolveRun(ref.task, RunState::kException, ReasonResolved::kClaimExpired);
      if (counts) counts->claims_expired++;
    }
  }
}

int QueueImpl::FireHooksLocked() {
  const TimeMs now = clock_->NowMs();
  // A tick comes every 100 ms and a hook fires at most once a minute: most ticks have no
  // hook to fire, and walking every hook (2,500 of them at 50x in reminder-hooks) to find
  // out was most of the engine's work.
  if (hooks_due_known_ && (hooks_due_ms_ < 0 || hooks_due_ms_ > now)) return 0;
  int created_count = 0;
  TimeMs due = -1;
  auto next_due = [&due](TimeMs next) {
    if (next >= 0 && (due < 0 || next < due)) due = next;
  };
  for (auto& [id, h] : hooks_) {
    // No catch-up: of the fire times in (last_fire, now] only the latest creates a task;
    // the earlier ones were missed (the engine was down or the tick late).
    TimeMs fire = h.NextFire();
    if (fire < 0 || fire > now) {
      next_due(fire);
      continue;
    }
    int steps = 0;
    for (TimeMs next = h.schedule.NextAfter(fire); next >= 0 && next <= now;
         next = h.schedule.NextAfter(fire)) {
      fire = next;
      if (++steps == kMaxHookWalkSteps) {  // a long outage: jump close to now
        TimeMs jump = h.schedule.NextAfter(now - 24LL * 3600 * 1000);
        if (jump >= 0 && jump <= now) fire = jump;
        steps = 0;
        if (h.schedule.NextAfter(fire) > now) break;
      }
    }
    const TaskDefinition& t = h.def->task_template;
    auto def = std::make_shared<TaskDefinition>(t);
    def->task_id = DeterministicTaskId(h.def->hook_id, fire, h.def->key);
    def->created_ms = fire;
    def->deadline_ms = fire + t.deadline_ms;
    def->expires_ms = t.expires_ms == 0 ? 0 : fire + t.expires_ms;
    bool created = false;
    Status st = CreateLocked(std::move(def), /*check_created_window=*/false, nullptr, &created);
    // The template was validated when the hook was created, so only a conflict with a
    // task of the same id can fail here; the fire is recorded either way.
    if (created) ++created_count;
    (void)st;
    h.last_fire_ms = fire;
    batch_.hooks.push_back(HookRecord{h.def, fire});
    next_due(h.NextFire());
  }
  hooks_due_ms_ = due;
  hooks_due_known_ = true;
  return created_count;
}

}  // namespace ithappens::engine
