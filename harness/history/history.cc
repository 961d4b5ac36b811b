#include "harness/history/history.h"

#include <array>
#include <fstream>

namespace ithappens::harness {
namespace {
constexpr std::array<std::string_view, 8> kTypes = {"invoke", "ok",     "fail", "info",
                                                    "fault",  "effect", "plan", "final"};
}  // namespace

std::string_view ToString(EventType t) { return kTypes[static_cast<size_t>(t)]; }

bool Parse(std::string_view s, EventType* out) {
  for (size_t k = 0; k < kTypes.size(); ++k) {
    if (kTypes[k] == s) {
      *out = static_cast<EventType>(k);
      return true;
    }
  }
  return false;
}

std::string EventToJson(const Event& e) {
  // Fixed key order, so equal histories are equal bytes.
  auto str = [](const std::string& s) { return nlohmann::json(s).dump(); };
  std::string out = "{\"i\":" + std::to_string(e.i) + ",\"t_ns\":" + std::to_string(e.t_ns) +
                    ",\"proc\":" + str(e.proc) + ",\"type\":\"" + std::string(ToString(e.type)) +
                    "\",\"f\":" + str(e.f);
  if (!e.task.empty()) out += ",\"task\":" + str(e.task);
  if (!e.value.is_null()) out += ",\"value\":" + e.value.dump();
  if (!e.error.empty()) out += ",\"error\":" + str(e.error);
  out += "}";
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

HistoryWriter::HistoryWriter(const std::string& path) : f_(std::fopen(path.c_str(), "w")) {
  if (f_) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
}

HistoryWriter::~HistoryWriter() {
  if (f_) std::fclose(f_);
}

void HistoryWriter::Append(Event& e) {
  e.i = next_++;
  if (!f_) return;
  std::string line = EventToJson(e);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), f_);
}

bool ReadHistory(const std::string& path, const std::function<void(const Event&)>& fn,
                 std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::string line;
  int64_t n = 0;
  Event e;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::string why;
    if (!EventFromJson(line, &e, &why)) {
      *error = path + ":" + std::to_string(n) + ": " + why;
      return false;
    }
    fn(e);
  }
  return true;
}

}  // namespace ithappens::harness
