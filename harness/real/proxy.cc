#include "harness/real/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "engine/hash.h"

namespace ithappens::harness {

using engine::Status;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

const char* ModeName(FaultProxy::Mode m) {
  switch (m) {
    case FaultProxy::Mode::kPass:
      return "pass";
    case FaultProxy::Mode::kBlackhole:
      return "blackhole";
    case FaultProxy::Mode::kLoseAnswers:
      return "lose-answers";
    case FaultProxy::Mode::kReset:
      return "reset";
  }
  return "?";
}

struct Chunk {
  int64_t at_ms;
  std::string bytes;
  size_t off = 0;
};

struct Conn {
  int down = -1, up = -1;  // the caller's side, the upstream's side
  std::deque<Chunk> to_up, to_down;
  int64_t last_up_ms = 0, last_down_ms = 0;
  bool dead = false;
  ~Conn() {
    if (down >= 0) close(down);
    if (up >= 0) close(up);
  }
};

// Writes what is due; false when the connection broke.
bool Deliver(int fd, std::deque<Chunk>* q, int64_t now, int64_t* counter) {
  while (!q->empty() && q->front().at_ms <= now) {
    Chunk& c = q->front();
    const ssize_t n = write(fd, c.bytes.data() + c.off, c.bytes.size() - c.off);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.off += static_cast<size_t>(n);
    *counter += n;
    if (c.off < c.bytes.size()) return true;
    q->pop_front();
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(std::string name, int upstream_port, uint64_t seed,
                       std::filesystem::path log)
    : name_(std::move(name)), upstream_port_(upstream_port), seed_(seed), log_path_(std::move(log)) {}

FaultProxy::~FaultProxy() { Stop(); }

Status FaultProxy::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::Unavailable(name_ + ": socket: " + std::strerror(errno));
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 128) != 0) {
    return Status::Unavailable(name_ + ": bind/listen: " + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  NonBlocking(listen_fd_);
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return Status::Unavailable(name_ + ": pipe: " + std::strerror(errno));
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void FaultProxy::Wake() {
  if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
}

void FaultProxy::Set(const Settings& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    settings_ = s;
    settings_changed_ = true;
  }
  Wake();
}

void FaultProxy::SetUpstream(int port) { upstream_port_ = port; }

FaultProxy::Counters FaultProxy::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void FaultProxy::Stop() {
  if (stop_.exchange(true)) return;
  Wake();
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&listen_fd_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void FaultProxy::Loop() {
  FILE* log = std::fopen(log_path_.c_str(), "a");
  auto note = [&](const std::string& what) {
    if (log == nullptr) return;
    std::fprintf(log, "%lld %s %s\n", static_cast<long long>(NowMs()), name_.c_str(), what.c_str());
    std::fflush(log);
  };
  uint64_t draws = 0;
  auto draw = [&]() { return (engine::Mix64(seed_ ^ draws++) >> 11) * 0x1.0p-53; };
  Settings s;
  std::vector<std::unique_ptr<Conn>> conns;
  auto count = [&](int64_t Counters::*field, int64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.*field += n;
  };
  auto close_all = [&](const char* why) {
    if (conns.empty()) return;
    note(std::string(why) + ": " + std::to_string(conns.size()) + " connections closed");
    count(&Counters::resets, static_cast<int64_t>(conns.size()));
    conns.clear();
  };
  std::vector<char> buf(64 * 1024);
  auto apply_settings = [&] {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (settings_changed_) {
        const Settings was = s;
        s = settings_;
        settings_changed_ = false;
        lock.unlock();
        note(std::string("mode ") + ModeName(s.mode) + " delay " + std::to_string(s.delay_ms) +
             " ms jitter " + std::to_string(s.jitter_ms) + " ms drop " + std::to_string(s.drop));
        // Bytes were lost mid-stream: the callers must start again on new connections.
        if (s.mode == Mode::kReset) close_all("reset");
        if ((was.mode == Mode::kBlackhole || was.mode == Mode::kLoseAnswers) &&
            s.mode != was.mode)
          close_all("healed");
      }
    }
  };
  while (!stop_) {
    apply_settings();
    const int64_t now = NowMs();
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    int64_t next_due = -1;
    for (const auto& c : conns) {
      auto due = [&](const std::deque<Chunk>& q) {
        if (q.empty()) return false;
        if (q.front().at_ms <= now) return true;
        next_due = next_due < 0 ? q.front().at_ms : std::min(next_due, q.front().at_ms);
        return false;
      };
      fds.push_back({c->down, static_cast<short>(POLLIN | (due(c->to_down) ? POLLOUT : 0)), 0});
      fds.push_back({c->up, static_cast<short>(POLLIN | (due(c->to_up) ? POLLOUT : 0)), 0});
    }
    const int timeout = next_due < 0 ? 200 : static_cast<int>(std::clamp<int64_t>(next_due - now, 0, 200));
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    // A switch made before these bytes were sent applies to them.
    apply_settings();
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) break;
        if (s.mode == Mode::kReset) {
          close(fd);
          count(&Counters::resets, 1);
          note("reset: a new connection closed");
          continue;
        }
        const int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(upstream_port_.load()));
        if (up < 0 || connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          note(std::string("upstream refused a connection: ") + std::strerror(errno));
          if (up >= 0) close(up);
          close(fd);
          count(&Counters::upstream_refused, 1);
          continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        NonBlocking(fd);
        NonBlocking(up);
        auto c = std::make_unique<Conn>();
        c->down = fd;
        c->up = up;
        conns.push_back(std::move(c));
        count(&Counters::connections, 1);
        note("a connection opened (" + std::to_string(conns.size()) + " open)");
      }
    }
    for (size_t k = 0; k < conns.size(); ++k) {
      Conn& c = *conns[k];
      const pollfd& down = fds[2 + 2 * k];
      const pollfd& up = fds[3 + 2 * k];
      auto take = [&](int from, bool upward) {
        const ssize_t n = read(from, buf.data(), buf.size());
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          note(std::string(upward ? "the caller" : "the upstream") + " closed a connection" +
               (n < 0 ? std::string(": ") + std::strerror(errno) : std::string()));
          c.dead = true;
          return;
        }
        if (n < 0) return;
        const bool lost = s.mode == Mode::kBlackhole || (!upward && s.mode == Mode::kLoseAnswers);
        if (lost) {
          count(upward ? &Counters::discarded_up : &Counters::discarded_down, n);
          return;
        }
        if (s.drop > 0 && draw() < s.drop) {
          note(std::string("drop: a connection reset ") + (upward ? "on the way up" : "on the way back"));
          count(&Counters::resets, 1);
          c.dead = true;
          return;
        }
        const int64_t jitter = s.jitter_ms > 0 ? static_cast<int64_t>(draw() * (s.jitter_ms + 1)) : 0;
        int64_t& last = upward ? c.last_up_ms : c.last_down_ms;
        last = std::max(last, NowMs() + s.delay_ms + jitter);  // a stream keeps its order
        (upward ? c.to_up : c.to_down).push_back(Chunk{last, std::string(buf.data(), n)});
      };
      if (down.revents & (POLLIN | POLLHUP | POLLERR)) take(c.down, true);
      if (!c.dead && (up.revents & (POLLIN | POLLHUP | POLLERR))) take(c.up, false);
      if (c.dead) continue;
      int64_t sent_up = 0, sent_down = 0;
      const int64_t t = NowMs();
      if (!Deliver(c.up, &c.to_up, t, &sent_up) || !Deliver(c.down, &c.to_down, t, &sent_down))
        c.dead = true;
      if (sent_up) count(&Counters::bytes_up, sent_up);
      if (sent_down) count(&Counters::bytes_down, sent_down);
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->dead; }),
                conns.end());
  }
  conns.clear();
  if (log != nullptr) std::fclose(log);
}

}  // namespace ithappens::harness
