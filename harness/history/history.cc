#include "harness/history/history.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "harness/history/plain_bytes.h"

namespace ithappens::harness {
namespace {
constexpr std::array<std::string_view, 8> kTypes = {"invoke", "ok",     "fail", "info",
                                                    "fault",  "effect", "plan", "final"};
// In Call's order (kOther first, with no name).
constexpr std::array<std::string_view, 17> kCalls = {"",
                                                     "create",
                                                     "claim",
                                                     "reclaim",
                                                     "report-completed",
                                                     "report-failed",
                                                     "report-exception",
                                                     "cancel",
                                                     "rerun",
                                                     "status",
                                                     "create-hook",
                                                     "remove-hook",
                                                     "task",
                                                     "target",
                                                     "hook",
                                                     "herd-guard",
                                                     "deliver"};
static_assert(kCalls.size() == static_cast<size_t>(Call::kDeliver) + 1);

// Length and first byte first: a name of another length or initial costs no comparison.
template <size_t N>
int Find(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t k = 0; k < N; ++k) {
    const std::string_view n = names[k];
    if (n.size() == s.size() && !s.empty() && n[0] == s[0] && n == s) return static_cast<int>(k);
  }
  return -1;
}
}  // namespace

std::string_view ToString(EventType t) { return kTypes[static_cast<size_t>(t)]; }

std::string_view ToString(Call c) { return kCalls[static_cast<size_t>(c)]; }

Call ParseCall(std::string_view f) {
  const int k = Find(kCalls, f);
  return k < 0 ? Call::kOther : static_cast<Call>(k);
}

bool IsReport(Call c, std::string_view f) {
  return c == Call::kReportCompleted || c == Call::kReportFailed || c == Call::kReportException ||
         (c == Call::kOther && f.starts_with("report-"));
}

bool Parse(std::string_view s, EventType* out) {
  const int k = Find(kTypes, s);
  if (k < 0) return false;
  *out = static_cast<EventType>(k);
  return true;
}

std::string FaultEdgeName(std::string_view kind, bool start) {
  return std::string(kind) + (start ? "-start" : "-stop");
}

bool ParseFaultEdge(std::string_view f, std::string_view* kind, bool* start) {
  for (bool edge : {true, false}) {
    const std::string_view suffix = edge ? "-start" : "-stop";
    if (f.size() > suffix.size() && f.ends_with(suffix)) {
      *kind = f.substr(0, f.size() - suffix.size());
      *start = edge;
      return true;
    }
  }
  return false;
}

bool IsEngineWideFault(std::string_view kind) {
  const std::optional<FaultKindId> id = ParseFaultKind(kind);
  return id && IsEngineWide(*id);
}

bool IsFaultOf(std::string_view f, FaultKindId kind) {
  std::string_view name;
  bool start = false;
  if (!ParseFaultEdge(f, &name, &start)) name = f;
  return ParseFaultKind(name) == kind;
}

bool IsTerminalState(std::string_view state) {
  return state == "completed" || state == "failed" || state == "exception";
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* plain = p;  // the start of the run not yet appended
  while (p < end) {
    // Plain bytes, eight at a time, then byte by byte to the one that ends the run.
    while (end - p >= 8 && QuoteSlashOrControl(LoadWord(p)) == 0) p += 8;
    while (p < end) {
      const unsigned char c = static_cast<unsigned char>(*p);
      if (c < 0x20 || c == '"' || c == '\\') break;
      ++p;
    }
    if (p == end) break;
    out->append(plain, static_cast<size_t>(p - plain));
    const unsigned char c = static_cast<unsigned char>(*p);
    plain = ++p;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out->append(buf);
      }
    }
  }
  out->append(plain, static_cast<size_t>(end - plain));
  out->push_back('"');
}

void AppendEventLine(std::string* out, int64_t i, int64_t t_ns, std::string_view proc,
                     EventType type, std::string_view f, std::string_view task,
                     std::string_view value_json, std::string_view error) {
  // Fixed key order, so equal histories are equal bytes.
  out->append("{\"i\":")
      .append(std::to_string(i))
      .append(",\"t_ns\":")
      .append(std::to_string(t_ns));
  out->append(",\"proc\":");
  AppendJsonString(out, proc);
  out->append(",\"type\":\"").append(ToString(type)).append("\",\"f\":");
  AppendJsonString(out, f);
  if (!task.empty()) {
    out->append(",\"task\":");
    AppendJsonString(out, task);
  }
  if (!value_json.empty()) out->append(",\"value\":").append(value_json);
  if (!error.empty()) {
    out->append(",\"error\":");
    AppendJsonString(out, error);
  }
  out->push_back('}');
}

std::string EventToJson(const Event& e) {
  std::string out;
  AppendEventLine(&out, e.i, e.t_ns, e.proc, e.type, e.f, e.task,
                  e.value.is_null() ? "" : e.value.dump(), e.error);
  return out;
}

bool EventFromJson(std::string_view line, Event* e, std::string* error) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "not a JSON object";
    return false;
  }
  auto need = [&](const char* k) {
    if (j.contains(k)) return true;
    *error = std::string("missing field '") + k + "'";
    return false;
  };
  if (!need("i") || !need("t_ns") || !need("proc") || !need("type") || !need("f")) return false;
  try {
    e->i = j["i"].get<int64_t>();
    e->t_ns = j["t_ns"].get<int64_t>();
    e->proc = j["proc"].get<std::string>();
    if (!Parse(j["type"].get<std::string>(), &e->type)) {
      *error = "type: unknown value '" + j["type"].get<std::string>() + "'";
      return false;
    }
    e->f = j["f"].get<std::string>();
    e->task = j.contains("task") ? j["task"].get<std::string>() : "";
    e->value = j.contains("value") ? j["value"] : nlohmann::json();
    e->error = j.contains("error") ? j["error"].get<std::string>() : "";
  } catch (const std::exception& ex) {
    *error = std::string("bad field type: ") + ex.what();
    return false;
  }
  return true;
}

HistoryWriter::HistoryWriter(const std::string& path, ByteChannel* tee)
    : path_(path), f_(std::fopen(path.c_str(), "w")), tee_(tee) {
  if (f_) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
}

HistoryWriter::~HistoryWriter() {
  std::string unused;
  Close(&unused);
}

bool HistoryWriter::Close(std::string* error) {
  if (f_) {
    if (std::fflush(f_) != 0 && write_errno_ == 0) write_errno_ = errno;
    if (std::fclose(f_) != 0 && write_errno_ == 0) write_errno_ = errno;
    f_ = nullptr;
  }
  if (tee_) {
    Tee();
    tee_->Close();
    tee_ = nullptr;
  }
  if (write_errno_ == 0) return true;
  *error = path_ + ": writing the history failed after " + std::to_string(next_) +
           " events: " + std::strerror(write_errno_);
  return false;
}

void HistoryWriter::Tee() {
  tee_->Write(std::move(tee_chunk_));
  tee_chunk_.clear();
}

void HistoryWriter::Append(Event& e) {
  e.i = next_;
  AppendRaw(e.t_ns, e.proc, e.type, e.f, e.task, e.value.is_null() ? "" : e.value.dump(), e.error);
}

void HistoryWriter::AppendRaw(int64_t t_ns, std::string_view proc, EventType type,
                              std::string_view f, std::string_view task,
                              std::string_view value_json, std::string_view error) {
  const int64_t i = next_++;
  if (!f_) return;
  line_.clear();
  AppendEventLine(&line_, i, t_ns, proc, type, f, task, value_json, error);
  line_.push_back('\n');
  if (std::fwrite(line_.data(), 1, line_.size(), f_) != line_.size() && write_errno_ == 0)
    write_errno_ = errno != 0 ? errno : EIO;
  if (tee_) {
    tee_chunk_.append(line_);
    if (tee_chunk_.size() >= (size_t{256} << 10)) Tee();  // the reader's unit of work
  }
}

}  // namespace ithappens::harness
