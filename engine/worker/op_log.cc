#include "engine/worker/op_log.h"

#include <algorithm>

#include "engine/server/daemon.h"

namespace ithappens::worker {

OpLog::OpLog(const std::string& path, std::string proc, const engine::ScaledClock* clock,
             engine::TimeMs origin_ms)
    : proc_(std::move(proc)), clock_(clock), origin_ms_(origin_ms) {
  if (path.empty()) return;
  // A previous life of this worker may have been killed mid-line.
  (void)daemon::CutTornTail(path);
  out_ = std::fopen(path.c_str(), "a");
}

OpLog::~OpLog() {
  if (out_ != nullptr) std::fclose(out_);
}

void OpLog::Write(std::string_view type, std::string_view f, std::string_view task,
                  const nlohmann::json& value, const std::string& error) {
  if (out_ == nullptr) return;
  // The history's key order (harness/history/history.cc), without "i".
  // A call before the run's origin (a worker starts before it) is recorded at the origin.
  const int64_t t_ms = std::max<int64_t>(0, clock_->NowMs() - origin_ms_);
  std::string line = "{\"t_ns\":" + std::to_string(t_ms * 1'000'000) +
                     ",\"proc\":" + nlohmann::json(proc_).dump() + ",\"type\":\"" +
                     std::string(type) + "\",\"f\":" + nlohmann::json(std::string(f)).dump();
  if (!task.empty()) line += ",\"task\":" + nlohmann::json(std::string(task)).dump();
  if (!value.is_null()) line += ",\"value\":" + value.dump();
  if (!error.empty()) line += ",\"error\":" + nlohmann::json(error).dump();
  line += "}\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fputs(line.c_str(), out_);
  std::fflush(out_);  // a SIGKILL must not take what was already done
}

void OpLog::Invoke(std::string_view f, std::string_view task, const nlohmann::json& value) {
  Write("invoke", f, task, value, "");
}

void OpLog::Complete(std::string_view f, std::string_view task, const engine::Status& st,
                     const nlohmann::json& ok_value, const nlohmann::json& invoke_value) {
  if (st.ok()) return Write("ok", f, task, ok_value, "");
  const bool unknown = st.code() == engine::StatusCode::kUnavailable ||
                       st.code() == engine::StatusCode::kDeadlineExceeded;
  Write(unknown ? "info" : "fail", f, task, invoke_value, st.ToString());
}

void OpLog::Event(std::string_view type, std::string_view f, std::string_view task,
                  const std::string& error) {
  Write(type, f, task, nullptr, error);
}

}  // namespace ithappens::worker
