// Proves real mode's TCP fault proxy between a real client and the real engine: it passes
// gRPC through and counts the bytes; with answers lost the request is applied but the
// caller hears nothing (info); a blackhole keeps the request from the engine; a delay
// makes a call wait at least that long; reset closes connections and refuses new ones;
// every switch and decision is in its log; and after healing the caller gets through.
#include "harness/real/proxy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

using harness::FaultProxy;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartEngine();
    proxy_ = std::make_unique<FaultProxy>("client-0->engine", cluster_.engine_port(), 7,
                                          cluster_.dir().path() / "proxy.log");
    ASSERT_TRUE(proxy_->Start().ok());
  }
  // A client through the proxy that tries once, with a short deadline: every answer is
  // seen as it is.
  rpc::QueueClient Client() {
    rpc::RetryPolicy once;
    once.max_attempts = 1;
    once.attempt_deadline_ms = 1'000;
    return rpc::QueueClient(rpc::Connect("127.0.0.1:" + std::to_string(proxy_->port())), once);
  }
  TaskDefinition Task(uint32_t n) { return MakeTask(n, WallMs()); }
  // Healed: the channel reconnects with its own backoff; the caller retries as callers do.
  bool GetsThrough(rpc::QueueClient& client, uint32_t n) {
    for (int i = 0; i < 200; ++i) {
      if (client.CreateTask(Task(n)).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  bool Exists(uint32_t n) {
    engine::TaskStatus s;
    return cluster_.Client().GetStatus(TaskId(n), &s).ok();  // directly, not through it
  }
  Cluster cluster_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(ProxyTest, PassesCallsThroughAndCountsTheBytes) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());
  const auto c = proxy_->counters();
  EXPECT_GE(c.connections, 1);
  EXPECT_GT(c.bytes_up, 0);
  EXPECT_GT(c.bytes_down, 0);
  EXPECT_EQ(c.discarded_up + c.discarded_down + c.resets, 0);
}

TEST_F(ProxyTest, LostAnswersLeaveTheRequestAppliedAndTheCallerUninformed) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());  // connected
  proxy_->Set({FaultProxy::Mode::kLoseAnswers});
  Status st = client.CreateTask(Task(2));
  EXPECT_EQ(StatusCodeName(st.code()), "DEADLINE_EXCEEDED") << st.ToString();
  EXPECT_TRUE(Exists(2)) << "the request reached the engine";
  EXPECT_GT(proxy_->counters().discarded_down, 0);
  proxy_->Set({FaultProxy::Mode::kPass});
  EXPECT_TRUE(GetsThrough(client, 3)) << "healed: the caller gets through again";
}

TEST_F(ProxyTest, ABlackholeKeepsTheRequestFromTheEngine) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());
  proxy_->Set({FaultProxy::Mode::kBlackhole});
  Status st = client.CreateTask(Task(2));
  EXPECT_EQ(StatusCodeName(st.code()), "DEADLINE_EXCEEDED") << st.ToString();
  EXPECT_FALSE(Exists(2)) << "nothing got through";
  EXPECT_GT(proxy_->counters().discarded_up, 0);
  proxy_->Set({FaultProxy::Mode::kPass});
  EXPECT_TRUE(GetsThrough(client, 3));
}

TEST_F(ProxyTest, ADelayMakesEachCallWaitAtLeastThatLong) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());
  proxy_->Set({FaultProxy::Mode::kPass, 150, 50, 0});
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.CreateTask(Task(2)).ok());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(300)) << "150 ms each way, at the least";
}

TEST_F(ProxyTest, ResetClosesConnectionsAndRefusesNewOnesUntilHealed) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());
  proxy_->Set({FaultProxy::Mode::kReset});
  Status st = client.CreateTask(Task(2));
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(Exists(2));
  EXPECT_GE(proxy_->counters().resets, 1);
  proxy_->Set({FaultProxy::Mode::kPass});
  EXPECT_TRUE(GetsThrough(client, 3));
  std::ifstream log(cluster_.dir().path() / "proxy.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("client-0->engine mode reset"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("connections closed"), std::string::npos) << text.str();
}

TEST_F(ProxyTest, ADownUpstreamIsARefusedConnection) {
  cluster_.KillEngine(SIGKILL);
  auto client = Client();
  EXPECT_FALSE(client.CreateTask(Task(1)).ok());
  EXPECT_GE(proxy_->counters().upstream_refused, 1);
}

// The upstream is killed and restarted on the same port (an engine crash): callers
// through the proxy get through again as soon as it is back.
TEST_F(ProxyTest, CallersGetThroughAgainWhenTheUpstreamIsBack) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());
  const int port = cluster_.engine_port();
  cluster_.KillEngine(SIGKILL);
  EXPECT_FALSE(client.CreateTask(Task(2)).ok());
  cluster_.StartEngine({}, port);
  EXPECT_TRUE(GetsThrough(client, 3)) << "refused " << proxy_->counters().upstream_refused;
}

// A caller that keeps calling while the engine is down keeps trying to connect: a
// connection attempt at least every half second (our channels' longest backoff), not one
// per DNS re-resolution (gRPC's resolver waited 5 s between answers: workers were cut off
// for 10 s after every engine restart). Counted at the proxy, not timed.
TEST_F(ProxyTest, ACallerKeepsTryingToConnectWhileTheUpstreamIsDown) {
  auto client = Client();
  ASSERT_TRUE(client.CreateTask(Task(1)).ok());
  const int port = cluster_.engine_port();
  cluster_.KillEngine(SIGKILL);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2'500);
  for (uint32_t n = 10; std::chrono::steady_clock::now() < until; ++n) {
    EXPECT_FALSE(client.CreateTask(Task(n)).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(proxy_->counters().upstream_refused, 3)
      << "connection attempts in 2.5 s of calling a stopped engine";
  cluster_.StartEngine({}, port);
  EXPECT_TRUE(GetsThrough(client, 3));
}

}  // namespace
}  // namespace ithappens::testing
