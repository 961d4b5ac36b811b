// Faults (DESIGN.md layout: harness/faults/): the catalogue of fault kinds — what each
// means, whom it targets, whether it takes a probability — the check of one fault against
// a scenario's processes, and the schedule of start/stop edges a driver sets. Applying a
// fault is the target side's business: the simulator's Nemesis (harness/sim) today, the
// real-mode supervisor later.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/fault_kind.h"

#include "harness/fault_kind.h"

namespace ithappens::harness {

struct FaultSpec {
  FaultKindId kind = FaultKindId::kWorkerCrash;  // a scheduled kind (FaultCatalogue())
  std::string target;  // see FaultTarget: worker-N, client-N, all, or nothing
  int64_t at_ms = 0;
  int64_t duration_ms = 0;
  // fsync-error, write-error: the chance that one call fails; flaky-network: that one
  // message is dropped. Drawn from the seeded generator of the run.
  double probability = 1.0;
  int line = 0;
};

// Whom a kind of fault is aimed at.
enum class FaultTarget {
  kNone,         // the engine, its disk, its clock, the sink
  kWorker,       // worker-N
  kWorkerOrAll,  // worker-N or all
  kProcOrAll,    // client-N, worker-N or all
};

struct FaultKind {
  FaultKindId id;
  std::string_view meaning;
  FaultTarget target = FaultTarget::kNone;
  double default_probability = 0;  // 0: the kind takes no probability
  std::string_view name = {};      // Name(id), the one table's
};

// Every kind a scenario may schedule, indexed by FaultKindId (`ithappens list` order).
const std::vector<FaultKind>& FaultCatalogue();
// The kind of that name, or nullptr.
const FaultKind* FindFaultKind(std::string_view name);
// (name, meaning) pairs, for `ithappens list`.
std::vector<std::pair<std::string, std::string>> FaultKinds();

// "" when target suits the kind in a scenario with these many workers and clients, else
// what it should be ("'worker-9' is not worker-0..worker-2").
std::string CheckFaultTarget(const FaultKind& kind, const std::string& target, int workers,
                             int clients);

// One start or stop of faults[fault] at at_ms after the run began.
struct FaultEdge {
  int64_t at_ms = 0;
  size_t fault = 0;
  bool start = true;
};
// The edges a driver sets, in the order it must set them (each fault's start, then its
// stop, fault by fault as written; a driver runs equal times in that order).
std::vector<FaultEdge> FaultSchedule(const std::vector<FaultSpec>& faults);
// When the last fault stops (0 without faults): the heal phase begins there.
int64_t LastFaultEndMs(const std::vector<FaultSpec>& faults);

}  // namespace ithappens::harness
