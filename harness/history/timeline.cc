#include "harness/history/timeline.h"

#include <algorithm>
#include <unordered_map>

#include "harness/history/history.h"

namespace ithappens::harness {
namespace {

struct Transition {
  int64_t t_ms;
  uint32_t task;
  std::string state;
};

}  // namespace

bool BuildTimeline(const std::string& path, int samples, Timeline* out, std::string* error) {
  std::unordered_map<std::string, uint32_t> ids;
  std::vector<Transition> moves;
  std::map<std::pair<std::string, std::string>, double> open;  // (kind, target) -> start
  int64_t t_max = 0;
  auto move = [&](std::string_view task, int64_t t, std::string_view state) {
    auto [it, fresh] = ids.emplace(std::string(task), static_cast<uint32_t>(ids.size()));
    moves.push_back(Transition{t, it->second, std::string(state)});
  };
  bool ok = ReadEvents(
      path,
      [&](const EventView& e) {
        const int64_t t = e.t_ns / 1'000'000;
        t_max = std::max(t_max, t);
        if (e.type == EventType::kFault) {
          const std::string target(e.target);
          if (e.f.ends_with("-start")) {
            open[{std::string(e.f.substr(0, e.f.size() - 6)), target}] = t / 1000.0;
          } else if (e.f.ends_with("-stop")) {
            std::string kind(e.f.substr(0, e.f.size() - 5));
            auto it = open.find({kind, target});
            if (it != open.end()) {
              out->faults.push_back(FaultSpan{kind, target, it->second, t / 1000.0});
              open.erase(it);
            }
          }
          return;
        }
        if (e.type == EventType::kOk && e.f == "create") move(e.task, t, "pending");
        if (e.type == EventType::kOk && e.f == "claim") {
          for (const RunFacts& r : e.runs) move(r.task, t, "running");
        }
        if (e.type == EventType::kOk && e.f == "report-completed") move(e.task, t, "completed");
        if (e.type == EventType::kOk && e.f == "report-failed") move(e.task, t, "failed");
        if (e.type == EventType::kOk && e.f == "report-exception") move(e.task, t, "exception");
        if (e.type == EventType::kFinal && e.error.empty()) {
          move(e.task, t, e.state.empty() ? "unscheduled" : e.state);
        }
      },
      error);
  if (!ok) return false;
  for (const auto& [key, start] : open) {  // still open at the end
    out->faults.push_back(FaultSpan{key.first, key.second, start, t_max / 1000.0});
  }
  std::vector<std::string> state(ids.size());
  std::map<std::string, int64_t> count;
  size_t next = 0;
  samples = std::max(samples, 2);
  for (int k = 0; k < samples; ++k) {
    const int64_t at = t_max * k / (samples - 1);
    for (; next < moves.size() && moves[next].t_ms <= at; ++next) {
      const Transition& m = moves[next];
      if (!state[m.task].empty()) count[state[m.task]]--;
      state[m.task] = m.state;
      count[m.state]++;
    }
    out->t_s.push_back(at / 1000.0);
    for (const auto& [s, n] : count) {
      auto& series = out->tasks[s];
      series.resize(out->t_s.size() - 1, 0);
      series.push_back(n);
    }
  }
  for (auto& [s, series] : out->tasks) series.resize(out->t_s.size(), 0);
  return true;
}

}  // namespace ithappens::harness
