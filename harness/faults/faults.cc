#include "harness/faults/faults.h"

#include <algorithm>
#include <cstdio>

namespace ithappens::harness {

const std::vector<FaultKind>& FaultCatalogue() {
  using T = FaultTarget;
  using K = FaultKindId;
  static const std::vector<FaultKind> kinds = [] {
    std::vector<FaultKind> out = {
      {K::kWorkerCrash, "the worker process dies for duration, losing its tasks in hand",
       T::kWorker},
      {K::kWorkerPause, "the worker freezes for duration (SIGSTOP), then resumes late", T::kWorker},
      {K::kPartition, "the worker (or all workers) cannot reach the engine for duration",
       T::kWorkerOrAll},
      {K::kEngineCrash,
       "the engine's process dies (SIGKILL) and restarts after duration; the simulator also "
       "drops its unsynced writes",
       T::kNone},
      {K::kResponseLoss,
       "requests reach the engine and apply, but every answer to target (client-N, worker-N or "
       "all) is lost: the caller records info and retries",
       T::kProcOrAll},
      {K::kFsyncError,
       "store fsyncs fail for duration (engine/store/fsync); probability: the chance for each "
       "(default 1)",
       T::kNone, 1.0},
      {K::kWriteError,
       "store writes fail for duration (engine/store/write); probability: the chance for each "
       "(default 1)",
       T::kNone, 1.0},
      {K::kWorkerLeak,
       "the worker leaks memory for duration: OOM-killed every 5 task runs, restarted 5 s later "
       "by its supervisor",
       T::kWorker},
      {K::kClockJump,
       "the engine's clock runs duration ahead (leases expire early), then jumps back", T::kNone},
      {K::kSinkOutage, "the notification provider is down (its leak ran out of memory) for duration",
       T::kNone},
      {K::kSinkLeak,
       "the notification provider leaks memory for duration: every 20th delivery it dies after "
       "sending, before answering, and is restarted 10 s later",
       T::kNone},
      {K::kFlakyNetwork,
       "target's (client-N, worker-N or all) messages are dropped with probability (default "
       "0.3) and delayed up to 200 ms for duration",
       T::kProcOrAll, 0.3},
      {K::kPowerCut,
       "the engine's machine loses power: the engine dies and what its store wrote but did not "
       "sync is gone (real mode: the power-cut file system under its data; the simulator: as "
       "engine-crash); restarts after duration",
       T::kNone},
    };
    for (FaultKind& k : out) k.name = Name(k.id);
    return out;
  }();
  return kinds;
}

const FaultKind* FindFaultKind(std::string_view name) {
  for (const FaultKind& k : FaultCatalogue())
    if (k.name == name) return &k;
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> FaultKinds() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const FaultKind& k : FaultCatalogue()) out.emplace_back(k.name, k.meaning);
  return out;
}

namespace {
// target is prefix-N with 0 <= N < count.
bool Numbered(const std::string& target, std::string_view prefix, int count) {
  if (target.rfind(prefix, 0) != 0) return false;
  int n = -1;
  char extra = 0;
  return std::sscanf(target.c_str() + prefix.size(), "%d%c", &n, &extra) == 1 && n >= 0 &&
         n < count;
}
}  // namespace

std::string CheckFaultTarget(const FaultKind& kind, const std::string& target, int workers,
                             int clients) {
  const std::string workers_range = "worker-0..worker-" + std::to_string(workers - 1);
  switch (kind.target) {
    case FaultTarget::kNone:
      return "";
    case FaultTarget::kWorker:
      return Numbered(target, "worker-", workers) ? "" : "'" + target + "' is not " + workers_range;
    case FaultTarget::kWorkerOrAll:
      return target == "all" || Numbered(target, "worker-", workers)
                 ? ""
                 : "'" + target + "' is not " + workers_range + " or all";
    case FaultTarget::kProcOrAll:
      return target == "all" || Numbered(target, "worker-", workers) ||
                     Numbered(target, "client-", clients)
                 ? ""
                 : "'" + target + "' is not client-0..client-" + std::to_string(clients - 1) +
                       ", " + workers_range + " or all";
  }
  return "";
}

std::vector<FaultEdge> FaultSchedule(const std::vector<FaultSpec>& faults) {
  std::vector<FaultEdge> edges;
  edges.reserve(faults.size() * 2);
  for (size_t k = 0; k < faults.size(); ++k) {
    edges.push_back({faults[k].at_ms, k, true});
    edges.push_back({faults[k].at_ms + faults[k].duration_ms, k, false});
  }
  return edges;
}

int64_t LastFaultEndMs(const std::vector<FaultSpec>& faults) {
  int64_t end = 0;
  for (const FaultSpec& f : faults) end = std::max(end, f.at_ms + f.duration_ms);
  return end;
}

}  // namespace ithappens::harness
