#include "harness/real/power_control.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ithappens::harness {
using engine::Status;
using json = nlohmann::json;

engine::Result<json> PowerControl::FailFsyncs(double probability, uint64_t seed) const {
  char p[32];
  std::snprintf(p, sizeof p, "%.6f", probability);
  return Command(std::string("fail-fsync ") + p + " " + std::to_string(seed));
}

engine::Result<json> PowerControl::Command(const std::string& command) const {
  const std::string where = "powerfs control 127.0.0.1:" + std::to_string(port_);
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Status::Unavailable(where + ": socket: " + std::strerror(errno));
  timeval tv{5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  int err = 0;
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = errno;
  } else {
    const std::string line = command + "\n";
    if (write(s, line.data(), line.size()) != static_cast<ssize_t>(line.size())) err = errno;
    char c;
    while (err == 0 && answer.find('\n') == std::string::npos) {
      const ssize_t n = read(s, &c, 1);
      if (n <= 0) err = n == 0 ? ECONNRESET : errno;
      else answer.push_back(c);
    }
  }
  close(s);
  if (err != 0) return Status::Unavailable(where + ": '" + command + "': " + std::strerror(err));
  const json j = json::parse(answer, nullptr, false);
  if (j.is_discarded() || !j.value("ok", false))
    return Status::Unavailable(where + ": '" + command + "' answered " + answer);
  return j;
}

Status FuseAvailable() {
  // ITHAPPENS_FUSE_DEVICE names another device: how a test shows the refusal on a machine
  // that has FUSE.
  const char* env = std::getenv("ITHAPPENS_FUSE_DEVICE");
  const std::string device = env != nullptr && *env != '\0' ? env : "/dev/fuse";
  const int fd = open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return Status::FailedPrecondition(device + ": " + std::strerror(errno) +
                                      " (power cuts need FUSE: a kernel with fuse and the "
                                      "device in this container)");
  close(fd);
  for (const char* p : {"/usr/bin/fusermount3", "/bin/fusermount3"})
    if (access(p, X_OK) == 0) return Status::Ok();
  return Status::FailedPrecondition(
      "fusermount3: not installed (power cuts need Debian's fuse3; scripts/install-deps.sh)");
}

bool IsMountPoint(const std::string& path) {
  std::error_code ec;
  const std::string want = std::filesystem::weakly_canonical(path, ec).string();
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mount_point;
    if (f >> id >> parent >> dev >> root >> mount_point && mount_point == want) return true;
  }
  return false;
}

Status Unmount(const std::string& path) {
  // fusermount3 may be unmounting it at the same time (its process died): retried a while.
  for (int attempt = 0; attempt < 50 && IsMountPoint(path); ++attempt) {
    if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
      return Status::Unavailable("umount " + path + ": " + std::strerror(errno));
    if (IsMountPoint(path)) usleep(20'000);
  }
  if (IsMountPoint(path)) return Status::Unavailable(path + ": still mounted");
  return Status::Ok();
}

}  // namespace ithappens::harness
