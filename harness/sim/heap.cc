#include "harness/sim/heap.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <string_view>

namespace ithappens::harness {
namespace {

// Huge pages for the heap; a 64 MiB top pad so that whole 2 MiB pages fit it as it grows;
// blocks up to 32 MiB (a growing vector's) from the heap, not from an mmap of their own
// that is zeroed again at every growth; and freed memory kept up to 256 MiB rather than
// handed back and faulted in again. Measured on SimLifecycles 10^5 (docs/performance.md).
constexpr const char* kTunables =
    "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864:glibc.malloc.mmap_threshold=33554432:"
    "glibc.malloc.trim_threshold=268435456";
// Set by the re-execution, read and removed by the re-executed process.
constexpr const char* kMarker = "ITHAPPENS_HEAP_REEXECUTED";

std::string& Mode() {
  static std::string mode = "4 KiB pages (the process did not choose its heap)";
  return mode;
}

// "always [madvise] never": the bracketed word is the machine's setting.
std::string TransparentHugePages() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const size_t open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return line.substr(open + 1, close - open - 1);
}

}  // namespace

void ReexecWithHugePageHeap(char** argv) {
  if (const char* marker = std::getenv(kMarker); marker != nullptr) {
    // The re-executed process: the tunables are in force; its children get the user's
    // environment back (they had no GLIBC_TUNABLES, or this would not have run).
    unsetenv("GLIBC_TUNABLES");
    unsetenv(kMarker);
    Mode() = std::string("transparent huge pages (") + kTunables + ")";
    return;
  }
  if (const char* user = std::getenv("GLIBC_TUNABLES"); user != nullptr) {
    Mode() = std::string("as GLIBC_TUNABLES sets it (") + user + ")";
    return;
  }
  if (const char* off = std::getenv("ITHAPPENS_HUGE_PAGES");
      off != nullptr && std::strcmp(off, "0") == 0) {
    Mode() = "4 KiB pages (ITHAPPENS_HUGE_PAGES=0)";
    return;
  }
  const std::string thp = TransparentHugePages();
  if (thp != "always" && thp != "madvise") {
    Mode() = "4 KiB pages (transparent huge pages are " + (thp.empty() ? "missing" : thp) +
             " on this machine)";
    return;
  }
  setenv("GLIBC_TUNABLES", kTunables, 1);
  setenv(kMarker, "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed: run as we are, with the environment as it was.
  const int err = errno;
  unsetenv("GLIBC_TUNABLES");
  unsetenv(kMarker);
  Mode() = std::string("4 KiB pages (re-executing with huge pages failed: ") + std::strerror(err) +
           ")";
}

const std::string& HeapMode() { return Mode(); }

namespace {
// A "Key:  N kB" line of a /proc file (status, meminfo), in bytes; -1 if it is not there.
int64_t ProcBytes(const char* file, std::string_view key) {
  std::ifstream f(file);
  for (std::string line; std::getline(f, line);) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':')
      return std::atoll(line.c_str() + key.size() + 1) * 1024;
  }
  return -1;
}
int64_t SelfStatusBytes(std::string_view key) { return ProcBytes("/proc/self/status", key); }
}  // namespace

int64_t ResidentBytes() { return SelfStatusBytes("VmRSS"); }
int64_t PeakResidentBytes() { return SelfStatusBytes("VmHWM"); }
int64_t VirtualBytes() { return SelfStatusBytes("VmSize"); }

int64_t MemoryLeftBytes() {
  int64_t left = ProcBytes("/proc/meminfo", "MemAvailable");
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const int64_t used = std::max<int64_t>(0, VirtualBytes());
    const int64_t room = std::max<int64_t>(0, static_cast<int64_t>(as.rlim_cur) - used);
    left = left < 0 ? room : std::min(left, room);
  }
  return left;
}

bool ResetPeakResident() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.close();
  return f.good();
}

ChildRun RunInChild(const std::function<int(int fd)>& body) {
  ChildRun run;
  int fds[2];
  if (pipe(fds) != 0) {
    run.error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    run.error = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return run;
  }
  if (pid == 0) {  // the child never returns into the caller: every way out is _exit
    close(fds[0]);
    int code = 70;
    try {
      code = body(fds[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ithappens: a measurement in a child process failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "ithappens: a measurement in a child process failed\n");
    }
    close(fds[1]);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);
  }
  close(fds[1]);
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    run.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  while (waitpid(pid, &run.wait_status, 0) < 0 && errno == EINTR) {
  }
  return run;
}

bool ChildRun::Succeeded() const {
  return error.empty() && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

std::string ChildRun::How() const {
  if (!error.empty()) return error;
  return WIFSIGNALED(wait_status) ? "died of signal " + std::to_string(WTERMSIG(wait_status))
                                  : "exited with " + std::to_string(WEXITSTATUS(wait_status));
}

int64_t PeakGrowthInChild(const std::function<void()>& work) {
  const ChildRun run = RunInChild([&](int fd) {
    malloc_trim(0);
    const int64_t before = ResetPeakResident() ? ResidentBytes() : -1;
    work();
    const int64_t peak = PeakResidentBytes();
    const int64_t grown = before >= 0 && peak >= before ? peak - before : -1;
    return write(fd, &grown, sizeof grown) == static_cast<ssize_t>(sizeof grown) ? 0 : 1;
  });
  int64_t grown = -1;
  if (!run.Succeeded() || run.out.size() != sizeof grown) return -1;
  std::memcpy(&grown, run.out.data(), sizeof grown);
  return grown;
}

}  // namespace ithappens::harness
