#include "engine/server/daemon.h"

#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <filesystem>
#include <mutex>
#include <vector>

namespace ithappens::daemon {

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name, const std::string& path) {
  std::shared_ptr<spdlog::logger> logger;
  if (path.empty()) {
    logger = spdlog::stderr_logger_mt(name);
  } else {
    std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    logger = spdlog::basic_logger_mt(name, path);
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %n[%P]: %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return logger;
}

namespace {
int g_signal_pipe[2] = {-1, -1};

void OnTerminationSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t ignored = write(g_signal_pipe[1], &b, 1);  // async-signal-safe
  (void)ignored;
}
}  // namespace

// Installs handler for both signals (interrupted system calls restart).
static void Handle(void (*handler)(int), int a, int b) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(a, &sa, nullptr);
  sigaction(b, &sa, nullptr);
}

void InstallTerminationHandler() {
  if (pipe(g_signal_pipe) != 0) std::abort();
  Handle(OnTerminationSignal, SIGTERM, SIGINT);
}

int WaitForTerminationSignal() {
  unsigned char b = 0;
  while (read(g_signal_pipe[0], &b, 1) != 1) {
  }
  return b;
}

int64_t RssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages_total = 0, pages_resident = 0;
  int n = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(pages_resident) * sysconf(_SC_PAGESIZE) : 0;
}

namespace {
std::atomic<bool> g_leak_switch{false};
static_assert(std::atomic<bool>::is_always_lock_free);
void OnLeakSignal(int sig) { g_leak_switch.store(sig == SIGUSR1); }
}  // namespace

void InstallLeakSwitch() { Handle(OnLeakSignal, SIGUSR1, SIGUSR2); }

bool LeakSwitchOn() { return g_leak_switch.load(); }

void InstallOutOfMemoryAbort() {
  std::set_new_handler([] {
    static const char kMsg[] = "out of memory: an allocation failed (RLIMIT_AS?); aborting\n";
    (void)!write(2, kMsg, sizeof kMsg - 1);
    std::abort();
  });
}

void Leak(int64_t bytes) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<char[]>> leaked;  // reachable, never freed
  if (bytes <= 0) return;
  auto block = std::make_unique<char[]>(static_cast<size_t>(bytes));
  std::memset(block.get(), 0x5a, static_cast<size_t>(bytes));
  std::lock_guard<std::mutex> lock(mu);
  leaked.push_back(std::move(block));
}

engine::Result<int64_t> CutTornTail(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return int64_t{0};  // no file yet
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return engine::Status::Unavailable(path + ": cannot read");
  // Back from the end to the last newline, a block at a time.
  int64_t keep = 0;
  std::vector<char> block(4096);
  for (int64_t end = static_cast<int64_t>(size); end > 0;) {
    const int64_t from = std::max<int64_t>(0, end - static_cast<int64_t>(block.size()));
    std::fseek(f, from, SEEK_SET);
    const size_t n = std::fread(block.data(), 1, static_cast<size_t>(end - from), f);
    int64_t k = static_cast<int64_t>(n) - 1;
    while (k >= 0 && block[static_cast<size_t>(k)] != '\n') --k;
    if (k >= 0) {
      keep = from + k + 1;
      break;
    }
    end = from;
  }
  std::fclose(f);
  const int64_t cut = static_cast<int64_t>(size) - keep;
  if (cut > 0) {
    std::filesystem::resize_file(path, static_cast<uintmax_t>(keep), ec);
    if (ec) return engine::Status::Unavailable(path + ": cannot cut its torn tail: " + ec.message());
  }
  return cut;
}

engine::Status WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return engine::Status::Internal("port-file: cannot write " + tmp);
  std::fprintf(f, "%d\n", port);
  std::fclose(f);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return engine::Status::Internal("port-file: rename to " + path + ": " + ec.message());
  return engine::Status::Ok();
}

}  // namespace ithappens::daemon
