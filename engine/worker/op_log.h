// The worker's own record of its calls to the engine and the sink, in the history's
// format (DESIGN.md, "History") without the index "i": real mode's harness merges it with
// its clients' record and the sink's (harness/real/merge.h) and numbers the result. Times
// are the run's (the scaled clock) since the run's origin; each call is an invoke and its
// completion — ok, fail (certainly no effect) or info (UNAVAILABLE or a deadline: unknown)
// — with the values the simulator writes, so the same checkers read both.
#pragma once

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/clock.h"
#include "engine/status.h"

namespace ithappens::worker {

class OpLog {
 public:
  // path "": records nothing.
  OpLog(const std::string& path, std::string proc, const engine::ScaledClock* clock,
        engine::TimeMs origin_ms);
  ~OpLog();
  OpLog(const OpLog&) = delete;
  OpLog& operator=(const OpLog&) = delete;

  void Invoke(std::string_view f, std::string_view task, const nlohmann::json& value);
  // A completion; a failed or unknown one repeats the invoke's value (it names the run).
  void Complete(std::string_view f, std::string_view task, const engine::Status& st,
                const nlohmann::json& ok_value, const nlohmann::json& invoke_value);
  // An event of its own (a delivery the worker gave up on: fail deliver).
  void Event(std::string_view type, std::string_view f, std::string_view task,
             const std::string& error);

 private:
  void Write(std::string_view type, std::string_view f, std::string_view task,
             const nlohmann::json& value, const std::string& error);
  std::FILE* out_ = nullptr;
  std::string proc_;
  const engine::ScaledClock* clock_;
  engine::TimeMs origin_ms_;
  std::mutex mu_;
};

}  // namespace ithappens::worker
