#include "tests/property/queue_model.h"

#include <tuple>

namespace ithappens::testing {

std::string WorkerName(int w) { return "w" + std::to_string(w); }

TaskState MTask::State() const {
  return runs.empty() ? TaskState::kUnscheduled : TaskStateOf(runs.back().state);
}

TaskDefinition MTask::Definition(int n) const {
  std::vector<std::string> dep_ids;
  for (int d : deps) dep_ids.push_back(TaskId(d));
  TaskDefinition def = MakeTask(n, created, dep_ids);
  def.requires_ = requires_;
  def.retries = retries;
  def.priority = static_cast<Priority>(priority);
  def.deadline_ms = deadline;
  return def;
}

void Model::AddRun(int task, ReasonCreated why) {
  MRun r;
  r.created = why;
  r.scheduled = now;
  tasks[task].runs.push_back(r);
}

void Model::Settle() {
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto& t : tasks) {
      if (!t.runs.empty() && IsResolved(t.runs.back().state)) t.ever_resolved = true;
      for (auto& r : t.runs) t.ever_completed |= r.state == RunState::kCompleted;
    }
    for (size_t i = 0; i < tasks.size(); ++i) {
      MTask& t = tasks[i];
      if (!t.runs.empty()) continue;
      bool ok = true;
      for (int d : t.deps) {
        ok &= t.requires_ == Requires::kAllCompleted ? tasks[d].ever_completed
                                                     : tasks[d].ever_resolved;
      }
      if (ok) {
        AddRun(static_cast<int>(i), ReasonCreated::kScheduled);
        changed = true;
      }
    }
  }
}

void Model::Resolve(int task, RunState outcome, ReasonResolved reason) {
  MTask& t = tasks[task];
  MRun& r = t.runs.back();
  r.state = outcome;
  r.resolved = reason;
  r.taken_until = 0;
  bool retryable = reason == ReasonResolved::kClaimExpired ||
                   reason == ReasonResolved::kWorkerShutdown ||
                   reason == ReasonResolved::kIntermittentTask;
  if (outcome == RunState::kException && retryable && t.retries_left > 0 && t.runs.size() < 50) {
    t.retries_left--;
    AddRun(task, reason == ReasonResolved::kIntermittentTask ? ReasonCreated::kTaskRetry
                                                             : ReasonCreated::kRetry);
  }
  Settle();
}

void Model::ProcessDue() {
  while (true) {
    // (time, kind: 0 deadline / 1 lease, task)
    std::optional<std::tuple<TimeMs, int, int>> next;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const MTask& t = tasks[i];
      std::optional<std::tuple<TimeMs, int, int>> ev;
      if (!IsResolved(t.State()) && t.deadline <= now) ev = std::make_tuple(t.deadline, 0, (int)i);
      if (t.State() == TaskState::kRunning && t.runs.back().taken_until <= now) {
        auto lease = std::make_tuple(t.runs.back().taken_until, 1, (int)i);
        if (!ev || lease < *ev) ev = lease;
      }
      if (ev && (!next || *ev < *next)) next = ev;
    }
    if (!next) return;
    auto [at, kind, i] = *next;
    if (kind == 1) {
      Resolve(i, RunState::kException, ReasonResolved::kClaimExpired);
    } else if (tasks[i].runs.empty()) {
      MRun r;
      r.state = RunState::kException;
      r.created = ReasonCreated::kException;
      r.resolved = ReasonResolved::kDeadlineExceeded;
      r.scheduled = now;
      tasks[i].runs.push_back(r);
      Settle();
    } else {
      Resolve(i, RunState::kException, ReasonResolved::kDeadlineExceeded);
    }
  }
}

StatusCode Model::Create(int n, MTask t) {
  ProcessDue();
  if (n < static_cast<int>(tasks.size())) {
    const MTask& old = tasks[n];
    bool same = old.deps == t.deps && old.requires_ == t.requires_ && old.retries == t.retries &&
                old.priority == t.priority && old.deadline == t.deadline &&
                old.created == t.created;
    return same ? StatusCode::kOk : StatusCode::kAlreadyExists;
  }
  t.retries_left = t.retries;
  t.runs.clear();
  t.ever_resolved = t.ever_completed = false;
  tasks.push_back(t);
  Settle();
  return StatusCode::kOk;
}

StatusCode Model::Claim(int worker, int k, std::vector<std::pair<int, int>>* claimed) {
  ProcessDue();
  for (int c = 0; c < k; ++c) {
    int best = -1;
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (tasks[i].State() != TaskState::kPending) continue;
      auto key = [&](size_t j) {
        return std::make_tuple(tasks[j].priority, tasks[j].runs.back().scheduled, j);
      };
      if (best < 0 || key(i) < key(best)) best = static_cast<int>(i);
    }
    if (best < 0) break;
    MRun& r = tasks[best].runs.back();
    r.state = RunState::kRunning;
    r.worker = worker;
    r.taken_until = now + kModelLeaseMs;
    claimed->emplace_back(best, static_cast<int>(tasks[best].runs.size()) - 1);
  }
  return StatusCode::kOk;
}

StatusCode Model::Reclaim(int task, int run, int worker) {
  ProcessDue();
  MTask& t = tasks[task];
  if (run >= static_cast<int>(t.runs.size())) return StatusCode::kNotFound;
  MRun& r = t.runs[run];
  if (run + 1 != static_cast<int>(t.runs.size()) || r.state != RunState::kRunning ||
      r.worker != worker) {
    return StatusCode::kFailedPrecondition;
  }
  r.taken_until = now + kModelLeaseMs;
  return StatusCode::kOk;
}

StatusCode Model::Report(int task, int run, int worker, RunState outcome, ReasonResolved reason) {
  ProcessDue();
  MTask& t = tasks[task];
  if (run >= static_cast<int>(t.runs.size())) return StatusCode::kNotFound;
  MRun& r = t.runs[run];
  bool current = run + 1 == static_cast<int>(t.runs.size());
  if (current && r.state == RunState::kRunning && r.worker == worker) {
    Resolve(task, outcome, reason);
    return StatusCode::kOk;
  }
  if (r.state == outcome && r.resolved == reason && r.worker == worker) return StatusCode::kOk;
  return StatusCode::kFailedPrecondition;
}

StatusCode Model::Cancel(int task) {
  ProcessDue();
  MTask& t = tasks[task];
  TaskState s = t.State();
  if (s == TaskState::kPending || s == TaskState::kRunning) {
    Resolve(task, RunState::kException, ReasonResolved::kCanceled);
  } else if (s == TaskState::kUnscheduled) {
    MRun r;
    r.state = RunState::kException;
    r.created = ReasonCreated::kException;
    r.resolved = ReasonResolved::kCanceled;
    r.scheduled = now;
    t.runs.push_back(r);
    Settle();
  }
  return StatusCode::kOk;
}

StatusCode Model::Rerun(int task) {
  ProcessDue();
  MTask& t = tasks[task];
  TaskState s = t.State();
  if (s == TaskState::kUnscheduled) return StatusCode::kFailedPrecondition;
  if (!IsResolved(s)) return StatusCode::kOk;
  if (now >= t.deadline) return StatusCode::kFailedPrecondition;
  if (t.runs.size() >= 50) return StatusCode::kResourceExhausted;
  AddRun(task, ReasonCreated::kRerun);
  return StatusCode::kOk;
}

void Model::Advance(TimeMs ms) {
  now += ms;
  ProcessDue();
}

std::string Diff(const Model& m, Queue& q) {
  for (size_t i = 0; i < m.tasks.size(); ++i) {
    const MTask& t = m.tasks[i];
    TaskStatus s;
    Status st = q.GetStatus(TaskId(static_cast<uint32_t>(i)), &s);
    std::string where = "task " + std::to_string(i) + ": ";
    if (!st.ok()) return where + st.ToString();
    if (s.state != t.State()) {
      return where + "state " + std::string(ToString(s.state)) + ", model " +
             std::string(ToString(t.State()));
    }
    if (s.retries_left != t.retries_left) return where + "retriesLeft differs";
    if (s.runs.size() != t.runs.size()) {
      return where + std::to_string(s.runs.size()) + " runs, model " +
             std::to_string(t.runs.size());
    }
    for (size_t k = 0; k < t.runs.size(); ++k) {
      const Run& a = s.runs[k];
      const MRun& b = t.runs[k];
      std::string rw = where + "run " + std::to_string(k) + ": ";
      if (a.state != b.state || a.reason_created != b.created || a.reason_resolved != b.resolved) {
        return rw + std::string(ToString(a.state)) + "/" + std::string(ToString(a.reason_created)) +
               "/" + std::string(ToString(a.reason_resolved)) + ", model " +
               std::string(ToString(b.state)) + "/" + std::string(ToString(b.created)) + "/" +
               std::string(ToString(b.resolved));
      }
      if (a.scheduled_ms != b.scheduled) return rw + "scheduled time differs";
      if (b.worker >= 0 && (!a.worker || a.worker->id != WorkerName(b.worker)))
        return rw + "worker differs";
      if (a.taken_until_ms != b.taken_until) return rw + "takenUntil differs";
    }
  }
  // The queue's tasks per state (kept incrementally) are the model's.
  std::vector<int64_t> want(6, 0);
  for (const MTask& t : m.tasks) ++want[static_cast<size_t>(t.State())];
  if (q.CountByState() != want) {
    std::string got;
    for (int64_t n : q.CountByState()) got += " " + std::to_string(n);
    std::string model;
    for (int64_t n : want) model += " " + std::to_string(n);
    return "tasks per state:" + got + ", model" + model;
  }
  return "";
}

}  // namespace ithappens::testing
