// Shared helper for harness tests that build histories by hand.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "harness/event.h"

namespace ithappens::testing {

inline harness::Event MakeEvent(int64_t i, int64_t t_ns, std::string proc, harness::EventType type,
                                std::string f, std::string task,
                                nlohmann::json value = nlohmann::json(), std::string error = "") {
  harness::Event e;
  e.i = i;
  e.t_ns = t_ns;
  e.proc = std::move(proc);
  e.type = type;
  e.f = std::move(f);
  e.task = std::move(task);
  e.value = std::move(value);
  e.error = std::move(error);
  return e;
}

// Builds a history event by event: index i at time i ms unless moved (AtMs).
class HistoryBuilder {
 public:
  HistoryBuilder& Add(std::string proc, harness::EventType type, std::string f, std::string task,
                      nlohmann::json value = nlohmann::json(), std::string error = "") {
    const auto i = static_cast<int64_t>(events_.size());
    events_.push_back(MakeEvent(i, i * 1000, std::move(proc), type, std::move(f), std::move(task),
                                std::move(value), std::move(error)));
    return *this;
  }
  HistoryBuilder& Plan(const std::string& t, const std::string& expect,
                       nlohmann::json extra = nlohmann::json::object()) {
    extra["expect"] = expect;
    if (!extra.contains("deps")) extra["deps"] = nlohmann::json::array();
    if (!extra.contains("effects")) extra["effects"] = nlohmann::json::array();
    return Add("plan", harness::EventType::kPlan, "task", t, extra);
  }
  HistoryBuilder& Created(const std::string& t, const std::string& id = "") {
    Add("client-0", harness::EventType::kInvoke, "create", t);
    return Add("client-0", harness::EventType::kOk, "create", t,
               {{"task_id", id.empty() ? t : id}});
  }
  // worker-0 claims run `run` of t (lease until lease_ms) and reports f for it.
  HistoryBuilder& Ran(const std::string& t, int run, const std::string& f,
                      int64_t lease_ms = 60'000) {
    Add("worker-0", harness::EventType::kInvoke, "claim", "", {{"n", 1}});
    Add("worker-0", harness::EventType::kOk, "claim", "",
        {{"runs", {{{"task", t}, {"run", run}, {"taken_until_ms", lease_ms}}}}});
    Add("worker-0", harness::EventType::kInvoke, f, t, {{"run", run}});
    return Add("worker-0", harness::EventType::kOk, f, t, {{"run", run}});
  }
  HistoryBuilder& Final(const std::string& t, const std::string& state, nlohmann::json runs,
                        nlohmann::json extra = nlohmann::json::object()) {
    extra["state"] = state;
    extra["runs"] = runs;
    return Add("final", harness::EventType::kFinal, "status", t, extra);
  }
  // Moves the last event to a time of its own.
  HistoryBuilder& AtMs(int64_t ms) {
    events_.back().t_ns = ms * 1'000'000;
    return *this;
  }
  const std::vector<harness::Event>& events() const { return events_; }

 private:
  std::vector<harness::Event> events_;
};

}  // namespace ithappens::testing
