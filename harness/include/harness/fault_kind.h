// The kinds of fault, as an enum with the one table of their names. The names are what a
// scenario writes (`kind: partition`) and what the history records (`partition-start`,
// `worker-oom`); everything else compares the enum. What each kind means, whom it targets
// and whether it takes a probability is the catalogue's (harness/faults/faults.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ithappens::harness {

enum class FaultKindId : uint8_t {
  // Scheduled by a scenario's faults:
  kWorkerCrash,
  kWorkerPause,
  kPartition,
  kEngineCrash,
  kResponseLoss,
  kFsyncError,
  kWriteError,
  kWorkerLeak,
  kClockJump,
  kSinkOutage,
  kSinkLeak,
  kFlakyNetwork,
  kPowerCut,
  // Observed, never scheduled: what a leak ends in (a kill by the OOM killer).
  kWorkerOom,
  kSinkOom,
};
inline constexpr size_t kFaultKindCount = 15;
inline constexpr size_t kScheduledFaultKinds = 13;  // the first ones: a scenario may name them

inline constexpr std::array<std::string_view, kFaultKindCount> kFaultKindNames = {
    "worker-crash", "worker-pause", "partition",   "engine-crash", "response-loss",
    "fsync-error",  "write-error",  "worker-leak", "clock-jump",   "sink-outage",
    "sink-leak",    "flaky-network", "power-cut",  "worker-oom",   "sink-oom"};

constexpr std::string_view Name(FaultKindId k) { return kFaultKindNames[static_cast<size_t>(k)]; }

constexpr std::optional<FaultKindId> ParseFaultKind(std::string_view name) {
  for (size_t k = 0; k < kFaultKindCount; ++k)
    if (kFaultKindNames[k] == name) return static_cast<FaultKindId>(k);
  return std::nullopt;
}

// Faults of the engine itself (its process, disk or clock): every run may feel them.
constexpr bool IsEngineWide(FaultKindId k) {
  return k == FaultKindId::kEngineCrash || k == FaultKindId::kPowerCut ||
         k == FaultKindId::kFsyncError || k == FaultKindId::kWriteError ||
         k == FaultKindId::kClockJump;
}

// Faults of one worker's process or link: its runs may expire.
constexpr bool IsWorkerFault(FaultKindId k) {
  return k == FaultKindId::kWorkerCrash || k == FaultKindId::kWorkerPause ||
         k == FaultKindId::kWorkerLeak || k == FaultKindId::kWorkerOom ||
         k == FaultKindId::kPartition || k == FaultKindId::kResponseLoss ||
         k == FaultKindId::kFlakyNetwork;
}

}  // namespace ithappens::harness
