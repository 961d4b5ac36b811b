#include "harness/sim/nemesis.h"

#include <string>

namespace ithappens::harness {
namespace {
int WorkerIndex(const std::string& target) { return std::stoi(target.substr(7)); }
}  // namespace

void SimNemesis::Apply(const FaultSpec& f, bool start) {
  switch (f.kind) {
    case FaultKindId::kWorkerCrash:
      if (start) {
        w_.workers.Crash(WorkerIndex(f.target));
      } else {
        w_.workers.Restart(WorkerIndex(f.target));
      }
      return;
    case FaultKindId::kWorkerLeak:
      w_.workers.Leak(WorkerIndex(f.target), start);
      return;
    case FaultKindId::kWorkerPause:
      if (start) w_.workers.Pause(WorkerIndex(f.target), w_.loop.Now() + f.duration_ms);
      return;
    case FaultKindId::kPartition:
      w_.network.Partition(f.target, start);
      return;
    case FaultKindId::kEngineCrash:
    case FaultKindId::kPowerCut:  // the simulated store drops unsynced writes on any crash
      if (start && w_.engine.Up()) {
        w_.engine.Kill();
        w_.engine_crashes++;
      } else if (!start && !w_.engine.Up()) {
        (void)w_.engine.Start();
      }
      return;
    case FaultKindId::kResponseLoss:
      w_.network.LoseResponses(f.target, start);
      return;
    case FaultKindId::kFlakyNetwork:
      w_.network.Flaky(f.target, start, f.probability);
      return;
    case FaultKindId::kClockJump:
      w_.engine.clock().offset_ms = start ? f.duration_ms : 0;
      return;
    case FaultKindId::kSinkOutage:
      w_.sink.SetDown(start);
      return;
    case FaultKindId::kSinkLeak:
      w_.sink.SetLeaking(start);
      return;
    case FaultKindId::kFsyncError:
      w_.disk.SetFsyncFailPpm(start ? Ppm(f.probability) : 0);
      return;
    case FaultKindId::kWriteError:
      w_.disk.SetWriteFailPpm(start ? Ppm(f.probability) : 0);
      return;
    case FaultKindId::kWorkerOom:
    case FaultKindId::kSinkOom:
      return;  // observed, never scheduled
  }
}

}  // namespace ithappens::harness
