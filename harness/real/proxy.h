// Real mode's TCP fault proxy (DESIGN.md, "Network"; Toxiproxy's toxics are the
// vocabulary): one per link (client->engine, worker->engine, worker->sink). It listens on
// a loopback port and forwards every connection to the upstream port; the nemesis switches
// it at run time:
//   pass           forward both ways, after delay + a seeded jitter in [0, jitter]
//   blackhole      a partition: connections stay open, nothing gets through either way
//   lose-answers   one-way loss (response-loss): requests reach the upstream, its answers
//                  are dropped
//   reset          every connection is closed at once, and each new one as it comes
// and, in pass, drop: each chunk read resets its connection with this chance (a flaky
// link). Every decision that changes the traffic is counted (the proof a fault event
// carries) and written to the proxy's log. One thread per proxy.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "engine/status.h"

namespace ithappens::harness {

class FaultProxy {
 public:
  enum class Mode { kPass, kBlackhole, kLoseAnswers, kReset };
  struct Settings {
    Mode mode = Mode::kPass;
    int64_t delay_ms = 0, jitter_ms = 0;
    double drop = 0;  // pass: the chance a chunk resets its connection
  };
  struct Counters {
    int64_t connections = 0;         // accepted
    int64_t bytes_up = 0;            // forwarded to the upstream
    int64_t bytes_down = 0;          // forwarded back
    int64_t discarded_up = 0;        // bytes a blackhole swallowed on the way up
    int64_t discarded_down = 0;      // ... on the way back (blackhole, lost answers)
    int64_t resets = 0;              // connections closed by reset or drop
    int64_t upstream_refused = 0;    // connections the upstream refused (it is down)
  };

  // name: the link ("worker-0->engine"), for the log.
  FaultProxy(std::string name, int upstream_port, uint64_t seed, std::filesystem::path log);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  engine::Status Start();  // listens on 127.0.0.1, an ephemeral port
  int port() const { return port_; }
  void Set(const Settings& s);
  void SetUpstream(int port);  // a restarted upstream on another port
  Counters counters() const;
  void Stop();  // closes everything; the thread ends

 private:
  void Loop();
  void Wake();
  std::string name_;
  std::atomic<int> upstream_port_;
  uint64_t seed_;
  std::filesystem::path log_path_;
  int listen_fd_ = -1, wake_[2] = {-1, -1}, port_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  Settings settings_;
  bool settings_changed_ = false;
  Counters counters_;
};

}  // namespace ithappens::harness
