// The channel a run's history takes to the reader that judges it while it is written: the
// same bytes in the same order whatever the chunk and read sizes, a writer held back at its
// limit until the reader catches up, and never held back by a reader that has gone.
#include "harness/history/byte_channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

namespace ithappens::harness {
namespace {

TEST(ByteChannel, TheReaderGetsTheWritersBytesInOrderWhateverTheSizes) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    ByteChannel channel(1 + rng() % 5000);  // limits below, near and above the chunks
    std::string sent;
    std::thread writer([&, seed] {
      std::mt19937 w(seed * 7919);
      for (int k = 0; k < 300; ++k) {
        std::string chunk(w() % 3000, '\0');
        for (char& c : chunk) c = static_cast<char>(w());
        sent += chunk;
        channel.Write(std::move(chunk));
      }
      channel.Close();
    });
    std::string got;
    std::vector<char> buf(8192);
    for (;;) {
      const size_t n = channel.Read(buf.data(), 1 + rng() % buf.size());
      if (n == 0) break;
      got.append(buf.data(), n);
    }
    writer.join();
    ASSERT_EQ(got.size(), sent.size()) << "seed " << seed;
    EXPECT_TRUE(got == sent) << "seed " << seed;
    EXPECT_EQ(channel.Read(buf.data(), buf.size()), 0u) << "the end stays the end";
  }
}

TEST(ByteChannel, AWriterWaitsAtItsLimitUntilTheReaderReads) {
  ByteChannel channel(1000);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int k = 0; k < 3; ++k) {
      channel.Write(std::string(600, 'x'));
      ++written;
    }
    channel.Close();
  });
  // 600 queued is under the limit, 1,200 is over it: the third write waits.
  for (int k = 0; k < 200 && written < 2; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(written.load(), 2);
  char buf[700];
  EXPECT_EQ(channel.Read(buf, sizeof buf), 700u);
  size_t rest = 0;
  while (size_t n = channel.Read(buf, sizeof buf)) rest += n;
  writer.join();
  EXPECT_EQ(written.load(), 3);
  EXPECT_EQ(rest, 1100u);
}

TEST(ByteChannel, AReaderThatLeavesNeverHoldsTheWriterUp) {
  ByteChannel channel(100);
  std::thread writer([&] {
    for (int k = 0; k < 1000; ++k) channel.Write(std::string(1000, 'x'));
    channel.Close();
  });
  char buf[10];
  EXPECT_EQ(channel.Read(buf, sizeof buf), 10u);
  channel.Abandon();
  writer.join();  // would wait forever if an abandoned channel still held the writer back
  EXPECT_EQ(channel.Read(buf, sizeof buf), 0u);
}

}  // namespace
}  // namespace ithappens::harness
