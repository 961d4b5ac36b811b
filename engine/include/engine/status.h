// Errors are values. A Status carries a code and a message that names the field and the
// bound that was violated ("retries: 50 is outside 0..49"). Codes map one-to-one onto gRPC
// status codes so the server can pass them through unchanged.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ithappens::engine {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,  // (gRPC, client side)
  kUnknown = 2,
  kInvalidArgument = 3,   // bad input; the message names the field and the bound
  kDeadlineExceeded = 4,  // (gRPC, client side) outcome unknown: the call may have applied
  kNotFound = 5,          // no such task / hook / run
  kAlreadyExists = 6,     // same id, different definition (a conflict)
  kPermissionDenied = 7,
  kResourceExhausted = 8,   // a limit was reached (runs per task, batch size, ...)
  kFailedPrecondition = 9,  // stale run, wrong worker, wrong state
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,     // an invariant of ours broke: our fault, never the caller's
  kUnavailable = 14,  // durable store failed; nothing was acknowledged; retry
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "UNAVAILABLE: store write failed: disk I/O error"
  std::string ToString() const;
  // Prefixes the message with context, keeping the code: the cause chain reads outer: inner.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return *std::move(value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ithappens::engine

#define ITHAPPENS_RETURN_IF_ERROR(expr)       \
  do {                                        \
    ::ithappens::engine::Status _st = (expr); \
    if (!_st.ok()) return _st;                \
  } while (0)

// Invariants are always checked, in every build type. A broken invariant is our bug.
#define ITHAPPENS_CHECK(cond)                                                 \
  do {                                                                        \
    if (!(cond)) ::ithappens::engine::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

namespace ithappens::engine {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr);
}
