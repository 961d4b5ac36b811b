// The history file: a buffered JSONL writer and a streaming reader. The format is defined
// in harness/event.h and nowhere else.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "harness/event.h"
#include "harness/history/byte_channel.h"

namespace ithappens::harness {

std::string EventToJson(const Event& e);
// The one formatter of history lines. value_json is JSON text ("" = no value).
void AppendEventLine(std::string* out, int64_t i, int64_t t_ns, std::string_view proc,
                     EventType type, std::string_view f, std::string_view task,
                     std::string_view value_json, std::string_view error);
// Appends s as a JSON string literal (with quotes and escapes).
void AppendJsonString(std::string* out, std::string_view s);
// Parses one line; false (with *error naming the field) on a malformed line.
bool EventFromJson(std::string_view line, Event* e, std::string* error);

class HistoryWriter {
 public:
  // Writes to path (truncating). ok() is false if the file could not be opened. With a tee,
  // the same bytes also go to it, in chunks, and it is closed when the writer is.
  explicit HistoryWriter(const std::string& path, ByteChannel* tee = nullptr);
  ~HistoryWriter();  // closes (a failure then goes unreported: call Close to know)
  bool ok() const { return f_ != nullptr; }
  // Assigns e.i (the next index) and appends the line.
  void Append(Event& e);
  // The same without building an Event: value_json is JSON text or "".
  void AppendRaw(int64_t t_ns, std::string_view proc, EventType type, std::string_view f,
                 std::string_view task, std::string_view value_json, std::string_view error);
  int64_t count() const { return next_; }
  // Writes out what is buffered and closes the file (and the tee); false, with *error
  // naming the file and the cause, if any line failed to reach it (a full disk, an I/O
  // error): a history that lost lines would blame the platform for the harness's disk.
  bool Close(std::string* error);

 private:
  void Tee();
  std::string path_;
  FILE* f_ = nullptr;
  int write_errno_ = 0;  // the first failed write's
  int64_t next_ = 0;
  std::string line_;  // reused buffer
  ByteChannel* tee_ = nullptr;
  std::string tee_chunk_;  // lines not yet handed to the tee
};

// Calls fn for every event of the file in order, in one streaming pass (reader.cc: a
// hand-written decoder for the writer's own lines, nlohmann for any other valid line);
// stops and returns false on the first malformed line, with *error naming the line number
// and the field. The EventView is valid only during the call.
bool ReadEvents(const std::string& path, const std::function<void(const EventView&)>& fn,
                std::string* error);
// The same over bytes from a source: read(dst, n) fills up to n bytes and returns how
// many, 0 only at the end (a ByteChannel's Read); `name` stands for the file in messages.
using ByteSource = std::function<size_t(char* dst, size_t n)>;
bool ReadEvents(const ByteSource& read, const std::string& name,
                const std::function<void(const EventView&)>& fn, std::string* error);
// ReadEvents into an observer: anything with Observe(const EventView&) (timeline.h's
// builders, RootCauseCollector).
template <typename Observer>
bool ReadEventsInto(const std::string& path, Observer* observer, std::string* error) {
  const auto observe = [observer](const EventView& e) { observer->Observe(e); };
  return ReadEvents(path, observe, error);
}
// The same over events in memory (each is formatted and decoded exactly as a file's line).
bool ReadEvents(const std::vector<Event>& events, const std::function<void(const EventView&)>& fn,
                std::string* error);

}  // namespace ithappens::harness
