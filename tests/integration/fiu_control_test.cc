// Proves real mode's disk faults on the engine process: FiuControl switches a store
// failure point through libfiu's remote control, the engine's writes fail while it is on
// (UNAVAILABLE, nothing acknowledged), the engine counts every fire (Health, the proof a
// fault event carries), and once it is off the engine takes writes again.
#include "harness/real/fiu_control.h"

#include <gtest/gtest.h>

#include "engine/fault_points.h"
#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

int64_t Fires(rpc::QueueClient& client) {
  v1::HealthResponse h;
  EXPECT_TRUE(client.Health(&h).ok());
  return h.fault_point_fires();
}

TEST(FiuControl, AStoreFaultSwitchedAtRunTimeFailsWritesAndIsCounted) {
  Cluster c;
  const std::string base = (c.dir().path() / "fiu").string();
  c.StartEngine({"--fiu-fifo", base});
  rpc::RetryPolicy once;
  once.max_attempts = 1;
  auto client = c.Client(once);
  ASSERT_TRUE(client.CreateTask(MakeTask(1, engine::RealClock().NowMs())).ok());
  EXPECT_EQ(Fires(client), 0);
  harness::FiuControl fiu(base, c.engine().pid());
  ASSERT_TRUE(fiu.Enable(engine::kFaultStoreFsync, 1.0).ok());
  Status st = client.CreateTask(MakeTask(2, engine::RealClock().NowMs()));
  EXPECT_EQ(StatusCodeName(st.code()), "UNAVAILABLE") << st.ToString();
  EXPECT_GT(Fires(client), 0) << "the engine counted the fault";
  ASSERT_TRUE(fiu.Disable(engine::kFaultStoreFsync).ok());
  bool through = false;  // the engine recovers from its log first
  for (int i = 0; i < 100 && !through; ++i)
    through = client.CreateTask(MakeTask(3, engine::RealClock().NowMs())).ok();
  EXPECT_TRUE(through);
  EXPECT_TRUE(fiu.Enable(engine::kFaultStoreWrite, 0.25).ok()) << "with a probability";
  EXPECT_TRUE(fiu.Disable(engine::kFaultStoreWrite).ok());
  EXPECT_EQ(fiu.Enable(engine::kFaultStoreWrite, 1.5).code(), engine::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ithappens::testing
