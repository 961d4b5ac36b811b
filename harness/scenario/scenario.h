// The scenario model and its YAML loader. Every error names the file, the line and the
// field ("scenarios/smoke.yaml:12: workload[1].tasks: -3 is outside 1..1000000"); unknown
// keys are errors too, so a typo never passes silently. Keep all parsing here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"
#include "harness/faults/faults.h"

namespace ithappens::harness {

struct WorkloadSpec {
  std::string kind;        // batch | chain | fanout | cron | rate | hook
  int tasks = 1;           // batch: tasks; chain: chains; cron: appointments;
                           // hook: hooks                                        (x load)
  int per_s = 0;           // rate: arrivals per second, open loop             (x load)
  int64_t every_ms = 0;    // cron: the filler re-submits every appointment this often
  int64_t until_ms = 0;    // cron: ... until then (the same task id every time);
                           // rate: arrivals from at until then
  int length = 3;          // chain: tasks per chain; fanout: children (`width`)
  bool fail_root = false;  // chain, fanout: the first task fails (the invoice cascade)
  int64_t at_ms = 0;       // when the workload is submitted
  int retries = 5;
  int64_t deadline_ms = 24LL * 3600 * 1000;
  std::string schedule;  // hook: 5-field cron (UTC); the hooks exist from at to until
  std::string program;   // payload JSON; "{i}" becomes the task's (hook: the hook's) ordinal
  // The payload is malformed on purpose (the worker must raise malformed-payload); without
  // it a program the worker cannot run is a scenario error.
  bool malformed = false;
  std::string requires_ = "all-completed";  // all-completed | all-resolved
  std::string priority = "lowest";          // Taskcluster's priority levels
  // Client behaviours that drive the queue's rules, each after the task's create was
  // answered OK (-1: never):
  int64_t recreate_after_ms = -1;  // re-create it identically, then with one field changed
  int64_t cancel_after_ms = -1;    // cancel it (chains: the last task, often unscheduled)
  int64_t rerun_after_ms = -1;     // rerun it (chains: the last task)
  int line = 0;
};

// One line of a scenario's `explore:` section: the faults of this kind an exploration
// seed may draw (ithappens explore; harness/cli/explore.h).
struct ExploreFault {
  FaultKindId kind = FaultKindId::kWorkerCrash;
  // Drawn from, one per fault; empty: every target the kind allows in this scenario
  // (worker-N; worker-N and all; client-N, worker-N and all), or none.
  std::vector<std::string> targets;
  int count_min = 0, count_max = 1;                    // how many, uniformly
  int64_t duration_min_ms = 1000, duration_max_ms = 0;  // 0: a quarter of the horizon
  double probability_min = 0, probability_max = 0;      // 0: the kind's default
  int line = 0;
};

// `explore:`: where and what an exploration draws. Without the section, each seed keeps
// the scenario's own faults (kind, target, probability), each at a random time within the
// horizon and a random length between 1 s and twice its own.
struct ExploreSpec {
  bool given = false;
  int64_t horizon_ms = 0;  // faults start in [0, horizon); 0: the scenario's (see below)
  std::vector<ExploreFault> faults;
};

// A hook workload plans one task per fire; this bounds the fires of one hook in a run.
inline constexpr int64_t kMaxFiresPerHook = 10'000;

struct Scenario {
  std::string name;
  std::string file;
  uint64_t seed = 1;
  int workers = 3;
  int capacity = 4;
  int clients = 2;
  int64_t poll_ms = 100;
  int64_t claim_timeout_ms = 60'000;
  int64_t latency_ms = 1;  // one way, per network hop
  int64_t request_timeout_ms = 5'000;
  int64_t heal_ms = 600'000;  // after the last fault: time allowed to reach terminal states
  // Each worker's memory (real mode: its cgroup's limit). A run whose program allocates
  // this much (alloc_mb steps, before its own budget stops it) kills its worker every time:
  // a poison pill, the platform's exception once its retries are spent.
  int64_t worker_memory_mb = 256;
  // The thundering-herd guard (no-duplicate-effects): no recipient gets more than
  // herd_max deliveries within any herd_window_ms. 0: no guard.
  int64_t herd_window_ms = 0;
  int herd_max = 0;
  // Workers make late calls on purpose: each acknowledged report is repeated (it must be
  // answered OK: reports are idempotent) and followed by a reclaim of the ended run (it
  // must be refused); a worker whose reclaim was refused still reports (refused: fencing).
  bool late_calls = false;
  // At 1 s a client probes every bound of a task definition: a create at the bound (must
  // be accepted) and one just past it (must be refused). See BoundProbes().
  bool bound_probes = false;
  // `real: {time_scale: K}`: the scenario runs in real mode (the real-mode suite), at this
  // time scale unless --time-scale says otherwise. 0: not in the real-mode suite.
  int64_t real_time_scale = 0;
  // `real: {fsync_error: powerfs}`: real mode's fsync-error is the power-cut file system's
  // fsyncgate fault (the kernel's EIO to every fsync, the data forgotten) instead of libfiu
  // in the engine's store (the default, "libfiu").
  bool real_fsync_error_by_powerfs = false;
  std::vector<WorkloadSpec> workload;
  std::vector<FaultSpec> faults;
  ExploreSpec explore;
};

engine::Result<Scenario> LoadScenario(const std::string& path);
// The same from YAML text (`file` names it in errors).
engine::Result<Scenario> ParseScenario(const std::string& yaml, const std::string& file);
// The scenario as YAML that LoadScenario reads back to the same model (lines aside): what
// `ithappens explore` writes for a seed's schedule and for a shrunk counterexample.
std::string ScenarioToYaml(const Scenario& s);
// Where an exploration's faults start: explore.horizon_s, else the later of the last
// fault's end and the last workload's submission (at_s, until_s), at least 1 s.
int64_t ExploreHorizonMs(const Scenario& s);
// The workload kinds, their keys and meaning, for `ithappens list`.
std::vector<std::pair<std::string, std::string>> WorkloadKinds();

}  // namespace ithappens::harness
