#include "engine/bugs.h"

#include <string>

namespace ithappens::engine {
namespace {
bool* SwitchByIndex(BugSwitches* b, size_t i) {
  bool* fields[] = {&b->ack_before_commit,
                    &b->random_task_ids,
                    &b->retry_user_failures,
                    &b->blame_user_for_platform,
                    &b->no_fencing,
                    &b->effect_key_per_run,
                    &b->no_claim_expiry,
                    &b->lose_pending_on_restart,
                    &b->reclaim_keeps_lease,
                    &b->retries_off_by_one,
                    &b->lax_conflicts,
                    &b->report_not_idempotent,
                    &b->cancel_ignores_unscheduled,
                    &b->no_deadline_when_blocked,
                    &b->requires_ignored,
                    &b->claim_lowest_first,
                    &b->retries_reset_on_restart,
                    &b->reclaim_ignores_worker,
                    &b->rerun_unscheduled,
                    &b->late_expiry,
                    &b->fsync_off};
  static_assert(sizeof(fields) / sizeof(fields[0]) == kBugSwitchNames.size());
  return fields[i];
}
}  // namespace

bool BugSwitches::any() const { return ToString() != "none"; }

std::string BugSwitches::ToString() const {
  std::string out;
  BugSwitches copy = *this;
  for (size_t i = 0; i < kBugSwitchNames.size(); ++i) {
    if (*SwitchByIndex(&copy, i)) {
      if (!out.empty()) out += ",";
      out += kBugSwitchNames[i];
    }
  }
  return out.empty() ? "none" : out;
}

Status EnableBugSwitch(std::string_view name, BugSwitches* bugs) {
  for (size_t i = 0; i < kBugSwitchNames.size(); ++i) {
    if (kBugSwitchNames[i] == name) {
      *SwitchByIndex(bugs, i) = true;
      return Status::Ok();
    }
  }
  std::string known;
  for (auto n : kBugSwitchNames) {
    if (!known.empty()) known += ", ";
    known += n;
  }
  return Status::InvalidArgument("engine-bug: unknown switch '" + std::string(name) +
                                 "' (known: " + known + ")");
}

std::string EffectKey(std::string_view task_id, uint32_t run_id, int step,
                      const BugSwitches& bugs) {
  std::string key(task_id);
  if (bugs.effect_key_per_run) {
    key += "/";
    key += std::to_string(run_id);
  }
  key += "/";
  key += std::to_string(step);
  return key;
}

}  // namespace ithappens::engine
