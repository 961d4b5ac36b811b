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

}  // namespace ithappens::testing
