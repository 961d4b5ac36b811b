// Deliberate bug switches (DESIGN.md, "Self-validation"). Off by default; only the harness
// sets them, to prove that each checker fails on the bug it is meant to catch.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace ithappens::engine {

struct BugSwitches {
  // Acknowledge a change before it is durable; it is flushed at the next Tick. A crash in
  // between loses acknowledged changes.
  bool ack_before_commit = false;
  // createTask ignores the client's taskId and makes up a fresh one, so a retried create
  // makes a second task.
  bool random_task_ids = false;
  // reportFailed retries the task like an exception (a user failure is retried).
  bool retry_user_failures = false;
  // Platform exceptions (claim-expired, worker-shutdown) resolve the run as `failed`.
  bool blame_user_for_platform = false;
  // Reports are accepted from any worker for any run, even one that is no longer current.
  bool no_fencing = false;
  // Effect idempotency keys include the run id, so a retried run notifies again.
  bool effect_key_per_run = false;
  // Expired claims are never reaped: a dead worker's task stays running.
  bool no_claim_expiry = false;
  // Recovery drops pending runs: tasks waiting for a worker vanish on restart.
  bool lose_pending_on_restart = false;
  // reclaimTask answers OK but leaves the lease where it was: long programs expire.
  bool reclaim_keeps_lease = false;
  // One automatic retry more than the definition's retries (retriesLeft >= 0).
  bool retries_off_by_one = false;
  // createTask compares only taskGroupId, dependencies and payload: a re-create with
  // another deadline, retries or priority is answered OK.
  bool lax_conflicts = false;
  // Repeating a report that already took effect is refused instead of answered OK.
  bool report_not_idempotent = false;
  // cancelTask on an unscheduled (blocked) task answers OK and changes nothing.
  bool cancel_ignores_unscheduled = false;
  // Deadlines pass over unscheduled (blocked) tasks: they stay unscheduled forever.
  bool no_deadline_when_blocked = false;
  // requires: all-resolved is treated as all-completed.
  bool requires_ignored = false;
  // claimWork serves the lowest priority first.
  bool claim_lowest_first = false;
  // Recovery forgets the retries a task used: after a restart it has all of them again.
  bool retries_reset_on_restart = false;
  // reclaimTask checks that the run is current and running, not who holds it.
  bool reclaim_ignores_worker = false;
  // rerunTask on an unscheduled task answers OK (it must be FAILED_PRECONDITION).
  bool rerun_unscheduled = false;
  // The claim-expiry reaper runs 30 s behind: expired leases resolve late.
  bool late_expiry = false;
  // The store does not sync (SQLite synchronous=OFF; the simulator's store never fsyncs):
  // a commit is acknowledged once the OS has it. A process crash keeps it (the page cache
  // survives); a power cut loses it.
  bool fsync_off = false;

  bool any() const;
  // "none" or the names of the switches that are on, comma-separated.
  std::string ToString() const;
};

inline constexpr std::array<std::string_view, 21> kBugSwitchNames = {
    "ack-before-commit",
    "random-task-ids",
    "retry-user-failures",
    "blame-user-for-platform",
    "no-fencing",
    "effect-key-per-run",
    "no-claim-expiry",
    "lose-pending-on-restart",
    "reclaim-keeps-lease",
    "retries-off-by-one",
    "lax-conflicts",
    "report-not-idempotent",
    "cancel-ignores-unscheduled",
    "no-deadline-when-blocked",
    "requires-ignored",
    "claim-lowest-first",
    "retries-reset-on-restart",
    "reclaim-ignores-worker",
    "rerun-unscheduled",
    "late-expiry",
    "fsync-off",
};

// Turns on the switch called `name`; INVALID_ARGUMENT naming the known switches otherwise.
Status EnableBugSwitch(std::string_view name, BugSwitches* bugs);

// The idempotency key of payload step `step` of a task's run: "<taskId>/<step>", or with
// the effect-key-per-run bug "<taskId>/<runId>/<step>". Workers (real and simulated) must
// use this function so the bug switch reaches them.
std::string EffectKey(std::string_view task_id, uint32_t run_id, int step, const BugSwitches& bugs);

}  // namespace ithappens::engine
