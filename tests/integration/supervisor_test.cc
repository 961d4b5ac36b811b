// Proves real mode's supervisor with the real binaries: each process in its own group with
// its log in logs/<name>.log, ready when its port file is written; a SIGKILL is recorded as
// such and the restart serves again on the same port; SIGSTOP really stops it and SIGCONT
// resumes it; a process that dies before it is ready is an error naming its log; and none
// of them outlives the supervisor — when it is destroyed, and when the process holding it
// gets SIGTERM or SIGINT (pgrep -x finds none of their pids).
#include "harness/real/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "engine/queue_client.h"
#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

using harness::ProcessSpec;
using harness::Supervisor;

ProcessSpec Sink(const TempDir& dir, const std::string& name, int port = 0) {
  const std::string port_file = (dir.path() / (name + ".port")).string();
  return ProcessSpec{name,
                     {BinPath("ithappens-sink"), "--listen", "127.0.0.1:" + std::to_string(port),
                      "--deliveries", (dir.path() / (name + ".jsonl")).string(), "--log",
                      (dir.path() / "logs" / (name + ".log")).string(), "--port-file", port_file},
                     port_file};
}

ProcessSpec Engine(const TempDir& dir) {
  const std::string port_file = (dir.path() / "engine.port").string();
  return ProcessSpec{"engine",
                     {BinPath("ithappens-engine"), "--listen", "127.0.0.1:0", "--db",
                      (dir.path() / "queue.db").string(), "--log",
                      (dir.path() / "logs/engine.log").string(), "--port-file", port_file},
                     port_file};
}

// True while a process with this pid exists and is not a zombie.
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_s, comm, state;
  if (!(stat >> pid_s >> comm >> state)) return false;
  return state != "Z";
}

char State(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_s, comm, state;
  stat >> pid_s >> comm >> state;
  return state.empty() ? '?' : state[0];
}


TEST(Supervisor, StartsEachInItsOwnGroupWithItsLogAndRestartsOnTheSamePort) {
  TempDir dir;
  Supervisor sup(dir.path() / "logs");
  ASSERT_TRUE(sup.Start(Engine(dir)).ok());
  ASSERT_TRUE(sup.Start(Sink(dir, "sink")).ok());
  const pid_t engine = sup.Pid("engine");
  EXPECT_EQ(getpgid(engine), engine) << "its own process group";
  EXPECT_GT(sup.Port("engine"), 0);
  EXPECT_TRUE(std::filesystem::file_size(sup.LogPath("engine")) > 0) << "it logs into logs/";
  // SIGKILL, recorded as such; the restart listens on the same port.
  const int port = sup.Port("engine");
  auto killed = sup.Kill("engine", SIGKILL);
  ASSERT_TRUE(killed.ok());
  EXPECT_FALSE(killed->exited);
  EXPECT_EQ(killed->signal, SIGKILL);
  EXPECT_EQ(killed->ToString(), "killed by signal 9 (Killed)");
  EXPECT_FALSE(Alive(engine));
  ProcessSpec again = Engine(dir);
  again.argv[2] = "127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(sup.Start(again).ok());
  EXPECT_EQ(sup.Port("engine"), port);
  EXPECT_NE(sup.Pid("engine"), engine);
  // A graceful stop is an exit, not a kill.
  auto stopped = sup.Kill("sink", SIGTERM);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(stopped->exited) << stopped->ToString();
  ASSERT_TRUE(sup.Restart("sink").ok());
  EXPECT_TRUE(sup.Running("sink"));
}

TEST(Supervisor, PauseStopsTheProcessAndResumeLetsItRun) {
  TempDir dir;
  Supervisor sup(dir.path() / "logs");
  ASSERT_TRUE(sup.Start(Sink(dir, "sink")).ok());
  const pid_t pid = sup.Pid("sink");
  ASSERT_TRUE(sup.Pause("sink").ok());
  for (int i = 0; i < 1000 && State(pid) != 'T'; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(State(pid), 'T') << "stopped";
  ASSERT_TRUE(sup.Resume("sink").ok());
  for (int i = 0; i < 1000 && State(pid) == 'T'; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_NE(State(pid), 'T') << "running again";
  // A paused process is still killed by the teardown.
  ASSERT_TRUE(sup.Pause("sink").ok());
  sup.TearDown();
  EXPECT_FALSE(Alive(pid));
}

TEST(Supervisor, AProcessThatDiesBeforeItIsReadyIsAnErrorNamingItsLog) {
  TempDir dir;
  Supervisor sup(dir.path() / "logs");
  ProcessSpec bad = Engine(dir);
  bad.argv.push_back("--no-such-flag");
  auto st = sup.Start(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("engine exited 2 before it was ready"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("logs/engine.log ends:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no-such-flag"), std::string::npos) << st.message();
  EXPECT_FALSE(sup.Running("engine"));
}

TEST(Supervisor, PgrepSeesOurProcessesByTheirKernelName) {
  TempDir dir;
  Supervisor sup(dir.path() / "logs");
  ASSERT_TRUE(sup.Start(Engine(dir)).ok());
  ASSERT_TRUE(sup.Start(Sink(dir, "sink")).ok());
  EXPECT_TRUE(Pgrep("ithappens-engine").count(sup.Pid("engine"))) << "the check can see one";
  EXPECT_TRUE(Pgrep("ithappens-sink").count(sup.Pid("sink")));
}

TEST(Supervisor, NothingOutlivesTheSupervisor) {
  TempDir dir;
  std::vector<pid_t> pids;
  {
    Supervisor sup(dir.path() / "logs");
    ASSERT_TRUE(sup.Start(Engine(dir)).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(sup.Start(Sink(dir, "sink-" + std::to_string(i))).ok());
    ASSERT_TRUE(sup.Pause("sink-1").ok());
    for (const char* n : {"engine", "sink-0", "sink-1", "sink-2"}) pids.push_back(sup.Pid(n));
  }
  const auto engines = Pgrep("ithappens-engine"), sinks = Pgrep("ithappens-sink");
  for (pid_t pid : pids) {
    EXPECT_FALSE(Alive(pid)) << pid;
    EXPECT_FALSE(engines.count(pid) || sinks.count(pid)) << "pgrep -x still finds " << pid;
  }
}

// A process holding a supervisor gets sig: every process it started goes with it. The
// test is the subreaper of the orphans, so it can see them reaped.
void ExpectSignalTearsDown(int sig) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  TempDir dir;
  const std::string pids_file = (dir.path() / "pids").string();
  const pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    Supervisor::InstallSignalTeardown();
    Supervisor sup(dir.path() / "logs");
    bool ok = sup.Start(Engine(dir)).ok() && sup.Start(Sink(dir, "sink")).ok() &&
              sup.Pause("sink").ok();
    {
      std::ofstream out(pids_file + ".tmp");
      out << sup.Pid("engine") << " " << sup.Pid("sink") << "\n";
    }
    std::filesystem::rename(pids_file + ".tmp", pids_file);
    if (!ok) _exit(3);
    for (;;) pause();
  }
  pid_t engine = -1, sink = -1;
  for (int i = 0; i < 4000 && !std::filesystem::exists(pids_file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::ifstream(pids_file) >> engine >> sink;
  ASSERT_GT(engine, 0);
  ASSERT_GT(sink, 0);
  ASSERT_TRUE(Alive(engine) && Alive(sink));
  kill(holder, sig);
  int status = 0;
  ASSERT_EQ(waitpid(holder, &status, 0), holder);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "it ends by the same signal";
  // Reap the orphans (this test is their subreaper), then look for them.
  for (pid_t pid : {engine, sink}) {
    // Killed processes are reaped at once; a survivor is not (and is killed here, so a
    // failing test leaves nothing behind).
    int st = 0;
    for (int i = 0; i < 400 && waitpid(pid, &st, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_FALSE(Alive(pid)) << pid << " outlived the holder";
    if (Alive(pid)) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
    }
  }
  const auto engines = Pgrep("ithappens-engine"), sinks = Pgrep("ithappens-sink");
  EXPECT_FALSE(engines.count(engine));
  EXPECT_FALSE(sinks.count(sink));
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(Supervisor, SigtermToTheHolderTearsEverythingDown) { ExpectSignalTearsDown(SIGTERM); }
TEST(Supervisor, SigintToTheHolderTearsEverythingDown) { ExpectSignalTearsDown(SIGINT); }

// Sends deliveries of distinct keys to the sink at port until one fails; how many went.
int DeliverUntilItFails(int port, int at_most) {
  rpc::RetryPolicy once;
  once.max_attempts = 1;
  once.attempt_deadline_ms = 5000;
  rpc::SinkClient sink(rpc::Connect("127.0.0.1:" + std::to_string(port)), once);
  for (int k = 0; k < at_most; ++k) {
    v1::DeliverRequest req;
    req.set_idempotency_key("task/" + std::to_string(k));
    req.set_channel("sms");
    req.set_recipient("patient");
    req.set_task_id("task");
    bool delivered = false;
    if (!sink.Deliver(req, &delivered).ok()) return k;
  }
  return at_most;
}

// The memory limit is the kernel's: a sink leaking 32 MiB per delivery in a 128 MiB cgroup
// is killed by the OOM killer (SIGKILL, counted by its group), a restart joins the same
// group, and the group is gone after the teardown.
TEST(Supervisor, AMemoryCgroupLimitsTheProcessAndCountsItsOomKills) {
  TempDir dir;
  std::string group;
  {
    Supervisor sup(dir.path() / "logs");
    ASSERT_EQ(sup.limit_mechanism(), harness::LimitMechanism::kCgroupV1) << "this machine kind";
    ProcessSpec sink = Sink(dir, "sink");
    sink.argv.insert(sink.argv.end(), {"--leak-kb-per-request", "32768"});
    sink.memory_limit_bytes = 128 << 20;
    ASSERT_TRUE(sup.Start(sink).ok());
    const pid_t pid = sup.Pid("sink");
    std::ifstream cgroups("/proc/" + std::to_string(pid) + "/cgroup");
    for (std::string line; std::getline(cgroups, line);)
      if (line.find(":memory:") != std::string::npos) group = line.substr(line.find(":/") + 2);
    EXPECT_NE(group.find("ithappens-"), std::string::npos) << "in a group of its own: " << group;
    const int sent = DeliverUntilItFails(sup.Port("sink"), 40);
    EXPECT_LT(sent, 6) << "128 MiB hold about 3 leaks of 32 MiB";
    std::optional<harness::ExitRecord> ended;
    for (int i = 0; i < 100 && !(ended = sup.Ended("sink")); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->signal, SIGKILL) << ended->ToString();
    EXPECT_EQ(sup.OomKills("sink"), 1);
    EXPECT_GE(sup.GroupPeakBytes("sink"), 100 << 20);
    ASSERT_TRUE(sup.Restart("sink").ok());
    EXPECT_EQ(sup.OomKills("sink"), 1) << "the same group again, its count kept";
  }
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/memory/" + group))
      << "the teardown removed " << group;
}

// Where no cgroup is writable the limit is RLIMIT_AS (memory limit + the address space
// allowance): the leaking sink's allocation fails and it aborts.
TEST(Supervisor, WithoutACgroupTheLimitIsRlimitAs) {
  TempDir dir;
  Supervisor sup(dir.path() / "logs",
                 harness::MemoryLimits::Detect((dir.path() / "no-cgroups").string()));
  ASSERT_EQ(sup.limit_mechanism(), harness::LimitMechanism::kRlimitAs);
  ProcessSpec sink = Sink(dir, "sink");
  sink.argv.insert(sink.argv.end(), {"--leak-kb-per-request", "65536"});
  sink.memory_limit_bytes = 64 << 20;
  ASSERT_TRUE(sup.Start(sink).ok());
  const pid_t pid = sup.Pid("sink");
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  std::string text((std::istreambuf_iterator<char>(limits)), {});
  EXPECT_NE(text.find(std::to_string((64 << 20) + harness::kAddressSpaceAllowanceBytes)),
            std::string::npos)
      << text;
  const int sent = DeliverUntilItFails(sup.Port("sink"), 60);
  EXPECT_LT(sent, 60) << "the address space ran out";
  std::optional<harness::ExitRecord> ended;
  for (int i = 0; i < 100 && !(ended = sup.Ended("sink")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->signal, SIGABRT) << ended->ToString() << " (a failed allocation)";
  EXPECT_EQ(sup.OomKills("sink"), 0) << "no cgroup to count in";
}

}  // namespace
}  // namespace ithappens::testing
