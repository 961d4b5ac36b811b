#include "engine/payload.h"

#include <nlohmann/json.hpp>

namespace ithappens::worker {
namespace {

using engine::Status;
using nlohmann::json;

Status Bad(size_t i, std::string_view field, std::string_view why) {
  return Status::InvalidArgument("payload.steps[" + std::to_string(i) + "]" +
                                 (field.empty() ? "" : "." + std::string(field)) + ": " +
                                 std::string(why));
}

Status ReadInt(const json& v, size_t i, std::string_view field, int64_t lo, int64_t hi,
               int64_t* out) {
  if (!v.is_number_integer()) return Bad(i, field, "must be an integer");
  int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) {
    return Bad(i, field,
               std::to_string(n) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  *out = n;
  return Status::Ok();
}

Status ParseStep(const json& j, size_t i, Step* s) {
  if (!j.is_object() || j.size() != 1) return Bad(i, "", "must be an object with exactly one key");
  const auto& [key, v] = *j.items().begin();
  struct Bound {
    const char* name;
    Step::Kind kind;
    int64_t lo, hi;
  };
  static const Bound kBounds[] = {
      {"sleep_ms", Step::Kind::kSleep, 0, 3'600'000},
      {"cpu_ms", Step::Kind::kCpu, 0, 600'000},
      {"alloc_mb", Step::Kind::kAlloc, 0, 4096},
      {"exit", Step::Kind::kExit, 0, 255},
      {"crash", Step::Kind::kCrash, 1, 64},
      {"fail_if_attempt_below", Step::Kind::kFailIfAttemptBelow, 1, 50}};
  for (const auto& b : kBounds) {
    if (key == b.name) {
      s->kind = b.kind;
      return ReadInt(v, i, key, b.lo, b.hi, &s->value);
    }
  }
  if (key == "effect") {
    if (!v.is_object()) return Bad(i, "effect", "must be an object {channel, to}");
    s->kind = Step::Kind::kEffect;
    auto ch = v.find("channel");
    auto to = v.find("to");
    if (ch == v.end() || !ch->is_string()) return Bad(i, "effect.channel", "missing");
    s->channel = ch->get<std::string>();
    if (s->channel != "email" && s->channel != "sms" && s->channel != "call") {
      return Bad(i, "effect.channel",
                 "'" + s->channel.substr(0, 32) + "' is not one of email, sms, call");
    }
    if (to == v.end() || !to->is_string() || to->get<std::string>().empty()) {
      return Bad(i, "effect.to", "must be a non-empty string");
    }
    s->to = to->get<std::string>();
    if (s->to.size() > 255) return Bad(i, "effect.to", "length exceeds the limit of 255");
    return Status::Ok();
  }
  return Bad(i, "", "unknown step '" + key.substr(0, 32) + "'");
}

}  // namespace

engine::Result<Program> ParsePayload(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("payload: not valid JSON");
  Program p;
  const json* steps = &j;
  if (j.is_object()) {
    auto it = j.find("steps");
    if (it == j.end()) return Status::InvalidArgument("payload.steps: missing");
    steps = &*it;
    if (auto m = j.find("memory_limit_mb"); m != j.end()) {
      if (!m->is_number_integer() || m->get<int64_t>() < 0 || m->get<int64_t>() > 1 << 20) {
        return Status::InvalidArgument("payload.memory_limit_mb: must be an integer in 0..1048576");
      }
      p.memory_limit_mb = m->get<int64_t>();
    }
  }
  if (!steps->is_array()) return Status::InvalidArgument("payload.steps: must be an array");
  if (steps->size() > kMaxSteps) {
    return Status::InvalidArgument("payload.steps: " + std::to_string(steps->size()) +
                                   " steps exceed the limit of " + std::to_string(kMaxSteps));
  }
  for (size_t i = 0; i < steps->size(); ++i) {
    ITHAPPENS_RETURN_IF_ERROR(ParseStep((*steps)[i], i, &p.steps.emplace_back()));
  }
  return p;
}

std::optional<Ending> RunProgram(const Program& program, uint32_t run_id, StepHost& host) {
  using K = Step::Kind;
  using engine::ReasonResolved;
  using engine::RunState;
  int64_t allocated_mb = 0;
  for (size_t i = 0; i < program.steps.size(); ++i) {
    const Step& s = program.steps[i];
    switch (s.kind) {
      case K::kSleep:
      case K::kCpu:
        if (!host.Wait(s)) return std::nullopt;
        break;
      case K::kAlloc:
        allocated_mb += s.value;
        if (program.memory_limit_mb > 0 && allocated_mb > program.memory_limit_mb) {
          return Ending{RunState::kFailed, ReasonResolved::kFailed,
                        "user program exceeded its memory budget of " +
                            std::to_string(program.memory_limit_mb) + " MiB",
                        i};
        }
        if (!host.Allocate(s)) return std::nullopt;
        break;
      case K::kEffect:
        if (!host.Effect(i, s)) return std::nullopt;
        break;
      case K::kExit:
        if (s.value == 0) return Ending{RunState::kCompleted, ReasonResolved::kCompleted, "", i};
        return Ending{RunState::kFailed, ReasonResolved::kFailed, "exit " + std::to_string(s.value),
                      i};
      case K::kCrash:
        return Ending{RunState::kFailed, ReasonResolved::kFailed,
                      "user program died of signal " + std::to_string(s.value), i};
      case K::kFailIfAttemptBelow:
        if (static_cast<int64_t>(run_id) + 1 < s.value) {
          return Ending{RunState::kException, ReasonResolved::kIntermittentTask,
                        "attempt " + std::to_string(run_id + 1) + " < " + std::to_string(s.value),
                        i};
        }
        break;
    }
  }
  return Ending{RunState::kCompleted, ReasonResolved::kCompleted, "", program.steps.size()};
}

}  // namespace ithappens::worker
