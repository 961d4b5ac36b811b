// The fault catalogue: names are unique and explained, targets are checked against the
// scenario's processes with a message naming what is allowed, and the schedule sets each
// fault's start then its stop, in the order the faults are written.
#include "harness/faults/faults.h"

#include <gtest/gtest.h>

#include <set>

namespace ithappens::harness {
namespace {

TEST(Faults, CatalogueNamesAreUniqueAndExplained) {
  std::set<std::string_view> names;
  for (const FaultKind& k : FaultCatalogue()) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_GT(k.meaning.size(), 20u) << k.name;
    EXPECT_EQ(FindFaultKind(k.name), &k);
  }
  EXPECT_EQ(names.size(), kScheduledFaultKinds);
  EXPECT_EQ(FindFaultKind("meteor"), nullptr);
  EXPECT_EQ(FindFaultKind("flaky-network")->default_probability, 0.3);
  EXPECT_EQ(FindFaultKind("worker-crash")->default_probability, 0.0) << "takes no probability";
}

// One table of names: the catalogue is indexed by the enum, every name parses back to its
// kind, and the kinds the harness only observes (an OOM kill) cannot be scheduled.
TEST(Faults, KindsAreAnEnumWithOneTableOfNames) {
  ASSERT_EQ(FaultCatalogue().size(), kScheduledFaultKinds);
  for (size_t k = 0; k < kScheduledFaultKinds; ++k) {
    EXPECT_EQ(static_cast<size_t>(FaultCatalogue()[k].id), k);
    EXPECT_EQ(FaultCatalogue()[k].name, Name(FaultCatalogue()[k].id));
  }
  for (size_t k = 0; k < kFaultKindCount; ++k) {
    const auto id = static_cast<FaultKindId>(k);
    EXPECT_EQ(ParseFaultKind(Name(id)), id);
  }
  EXPECT_EQ(ParseFaultKind("meteor"), std::nullopt);
  EXPECT_EQ(FindFaultKind("worker-oom"), nullptr) << "observed, never scheduled";
  EXPECT_TRUE(IsEngineWide(FaultKindId::kClockJump));
  EXPECT_FALSE(IsEngineWide(FaultKindId::kPartition));
  EXPECT_TRUE(IsWorkerFault(FaultKindId::kWorkerOom));
  EXPECT_FALSE(IsWorkerFault(FaultKindId::kSinkOutage));
}

TEST(Faults, TargetsAreCheckedAgainstTheScenario) {
  const FaultKind& crash = *FindFaultKind("worker-crash");
  const FaultKind& partition = *FindFaultKind("partition");
  const FaultKind& loss = *FindFaultKind("response-loss");
  const FaultKind& disk = *FindFaultKind("fsync-error");
  EXPECT_EQ(CheckFaultTarget(crash, "worker-2", 3, 2), "");
  EXPECT_EQ(CheckFaultTarget(crash, "worker-3", 3, 2), "'worker-3' is not worker-0..worker-2");
  EXPECT_NE(CheckFaultTarget(crash, "worker-1x", 3, 2), "") << "no trailing characters";
  EXPECT_NE(CheckFaultTarget(crash, "all", 3, 2), "") << "a crash is one worker's";
  EXPECT_EQ(CheckFaultTarget(partition, "all", 3, 2), "");
  EXPECT_EQ(CheckFaultTarget(partition, "client-0", 3, 2),
            "'client-0' is not worker-0..worker-2 or all");
  EXPECT_EQ(CheckFaultTarget(loss, "client-1", 3, 2), "");
  EXPECT_EQ(CheckFaultTarget(loss, "client-2", 3, 2),
            "'client-2' is not client-0..client-1, worker-0..worker-2 or all");
  EXPECT_EQ(CheckFaultTarget(disk, "", 3, 2), "") << "the engine's disk: no target";
}

TEST(Faults, ScheduleSetsEachStartThenItsStopInWrittenOrder) {
  std::vector<FaultSpec> faults(2);
  faults[0].at_ms = 5'000;
  faults[0].duration_ms = 1'000;
  faults[1].at_ms = 0;
  faults[1].duration_ms = 9'000;
  auto edges = FaultSchedule(faults);
  ASSERT_EQ(edges.size(), 4u);
  EXPECT_EQ(edges[0].fault, 0u);
  EXPECT_TRUE(edges[0].start);
  EXPECT_EQ(edges[1].at_ms, 6'000);
  EXPECT_FALSE(edges[1].start);
  EXPECT_EQ(edges[2].fault, 1u);
  EXPECT_EQ(edges[3].at_ms, 9'000);
  EXPECT_EQ(LastFaultEndMs(faults), 9'000);
  EXPECT_EQ(LastFaultEndMs({}), 0);
}

}  // namespace
}  // namespace ithappens::harness
