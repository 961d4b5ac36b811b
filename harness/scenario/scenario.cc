#include "harness/scenario/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>

#include "engine/cron.h"
#include "engine/task.h"
#include "engine/payload.h"

namespace ithappens::harness {

using engine::Status;

std::vector<std::pair<std::string, std::string>> WorkloadKinds() {
  return {
      {"batch", "tasks: N at at_s (x load)"},
      {"chain", "chains: N lines of length tasks, each after the one before (x load); fail_root"},
      {"fanout",
       "graphs: N of a root, width children, a join of all (width x load up to 100 "
       "dependencies, then more graphs); fail_root"},
      {"cron",
       "appointments: N tasks a client re-submits every every_s until until_s with the same "
       "id (the idempotent filler) (x load)"},
      {"rate", "per_s arrivals a second from at_s until until_s, open loop (x load)"},
      {"hook",
       "hooks: N engine cron hooks with schedule (5-field, UTC) from at_s until until_s; every "
       "fire is a task (x load)"}};
}

namespace {

class Loader {
 public:
  explicit Loader(std::string file, std::optional<std::string> text = std::nullopt)
      : file_(std::move(file)), text_(std::move(text)) {}

  Status Error(const YAML::Node& n, const std::string& field, const std::string& why) const {
    int line = n.IsDefined() ? std::max(n.Mark().line + 1, 1) : 1;
    return Status::InvalidArgument(file_ + ":" + std::to_string(line) + ": " + field + ": " + why);
  }

  Status Keys(const YAML::Node& map, const std::string& where,
              std::set<std::string> allowed) const {
    if (!map.IsMap()) {
      return Error(map, where.empty() ? "scenario" : where,
                   map.IsNull() ? "empty: a scenario is a mapping with name, workload and faults"
                                : "must be a mapping");
    }
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string k = it->first.as<std::string>();
      // YAML keeps one of two equal keys silently: here a repeated key is an error.
      if (!seen.insert(k).second) {
        return Error(it->first, where.empty() ? k : where + "." + k,
                     "given twice (one would silently win)");
      }
      if (!allowed.count(k)) {
        std::string known;
        for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
        return Error(it->first, where.empty() ? k : where + "." + k,
                     "unknown key (known: " + known + ")");
      }
    }
    return Status::Ok();
  }

  template <typename T>
  Status Int(const YAML::Node& map, const char* key, const std::string& where, T lo, T hi,
             T* out) const {
    YAML::Node n = map[key];
    if (!n) return Status::Ok();
    std::string field = where.empty() ? key : where + "." + key;
    T v;
    try {
      v = n.as<T>();
    } catch (const YAML::Exception&) {
      return Error(n, field, "'" + n.as<std::string>("?") + "' is not an integer");
    }
    if (v < lo || v > hi) {
      return Error(
          n, field,
          std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    *out = v;
    return Status::Ok();
  }

  // Seconds in YAML (`at_s: 10`), milliseconds in the model.
  Status Seconds(const YAML::Node& map, const char* key, const std::string& where, int64_t hi_s,
                 int64_t* out_ms) const {
    int64_t s = -1;
    ITHAPPENS_RETURN_IF_ERROR(Int<int64_t>(map, key, where, 0, hi_s, &s));
    if (s >= 0) *out_ms = s * 1000;
    return Status::Ok();
  }

  Status Bool(const YAML::Node& map, const char* key, const std::string& where, bool* out) const {
    YAML::Node n = map[key];
    if (!n) return Status::Ok();
    const std::string field = where.empty() ? key : where + "." + key;
    try {
      *out = n.as<bool>();
    } catch (const YAML::Exception&) {
      return Error(n, field, "'" + n.as<std::string>("?") + "' is not true or false");
    }
    return Status::Ok();
  }

  Status Name(const YAML::Node& map, const char* key, const std::string& where,
              std::string* out) const {
    YAML::Node n = map[key];
    if (!n) return Status::Ok();
    if (!n.IsScalar()) return Error(n, where.empty() ? key : where + "." + key, "must be a name");
    *out = n.as<std::string>();
    return Status::Ok();
  }

  // A fault line's `kind`: one of the catalogue's.
  Status Kind(const YAML::Node& f, const std::string& where, const FaultKind** out) const {
    std::string name;
    ITHAPPENS_RETURN_IF_ERROR(Name(f, "kind", where, &name));
    *out = FindFaultKind(name);
    if (*out == nullptr) {
      return Error(f["kind"] ? f["kind"] : f, where + ".kind",
                   "'" + name + "' is not a fault kind (see `ithappens list`)");
    }
    return Status::Ok();
  }

  // Steps are small: maps of scalars or of maps. Integers stay numbers; every string is
  // escaped as JSON requires.
  static nlohmann::json ToJson(const YAML::Node& n) {
    if (n.IsSequence()) {
      nlohmann::json a = nlohmann::json::array();
      for (size_t i = 0; i < n.size(); ++i) a.push_back(ToJson(n[i]));
      return a;
    }
    if (n.IsMap()) {
      nlohmann::json o = nlohmann::json::object();
      for (auto it = n.begin(); it != n.end(); ++it)
        o[it->first.as<std::string>()] = ToJson(it->second);
      return o;
    }
    if (!n.IsScalar()) return nullptr;
    const std::string v = n.as<std::string>();
    const bool numeric = !v.empty() && v.size() < 19 &&
                         v.find_first_not_of("-0123456789") == std::string::npos &&
                         v.find('-', 1) == std::string::npos && v != "-";
    if (numeric) return std::stoll(v);
    return v;
  }

  // The program as the worker will read it: its steps checked now, with the line of the
  // step at fault, so a typo is a scenario error and not a quiet malformed-payload.
  Status Program(const YAML::Node& w, const std::string& where, WorkloadSpec* spec) const {
    const YAML::Node program = w["program"];
    spec->program = ToJson(program).dump();
    // The program's own memory budget (the payload's memory_limit_mb): past it the user's
    // code fails (failed, never retried).
    if (w["memory_limit_mb"]) {
      int64_t budget = 0;
      ITHAPPENS_RETURN_IF_ERROR(Int<int64_t>(w, "memory_limit_mb", where, 1, 1 << 20, &budget));
      spec->program = "{\"memory_limit_mb\":" + std::to_string(budget) +
                      ",\"steps\":" + spec->program + "}";
    }
    // The largest expansion of "{i}" (a 7-digit ordinal) must fit the engine's bound.
    size_t n_i = 0;
    for (size_t p = spec->program.find("{i}"); p != std::string::npos;
         p = spec->program.find("{i}", p + 1))
      ++n_i;
    const size_t largest = spec->program.size() + n_i * 4;
    if (largest > engine::kMaxPayloadBytes) {
      return Error(program, where + ".program",
                   std::to_string(largest) + " bytes once {i} is expanded, over the engine's " +
                       "payload limit of " + std::to_string(engine::kMaxPayloadBytes));
    }
    if (spec->malformed) return Status::Ok();
    std::string expanded = spec->program;
    for (size_t p; (p = expanded.find("{i}")) != std::string::npos;) expanded.replace(p, 3, "0");
    auto parsed = worker::ParsePayload(expanded);
    if (parsed.ok()) return Status::Ok();
    // "payload.steps[3].sleep_ms: ..." -> the line of step 3, field program[3].sleep_ms.
    std::string m = parsed.status().message();
    YAML::Node at = program;
    std::string field = where + ".program";
    const std::string prefix = "payload.steps[";
    if (m.rfind(prefix, 0) == 0) {
      const size_t close = m.find(']');
      const size_t k = std::stoul(m.substr(prefix.size(), close - prefix.size()));
      if (k < program.size()) at = program[k];
      m = m.substr(prefix.size() - 1);  // "[3].sleep_ms: ..."
      field += m.substr(0, m.find(": "));
      m = m.substr(m.find(": ") + 2);
    }
    return Error(at, field, m + " (set malformed: true to send it on purpose)");
  }

  // Any conversion yaml-cpp refuses past the checks above is still the file's fault: exit 2
  // with the line, never an exception out of the loader.
  engine::Result<Scenario> Load() {
    try {
      return LoadChecked();
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(file_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
  }

  engine::Result<Scenario> LoadChecked() {
    YAML::Node root;
    try {
      root = text_ ? YAML::Load(*text_) : YAML::LoadFile(file_);
    } catch (const YAML::BadFile&) {
      return Status::InvalidArgument(file_ + ": cannot read the scenario file");
    } catch (const YAML::ParserException& e) {
      return Status::InvalidArgument(file_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    Scenario s;
    s.file = file_;
    ITHAPPENS_RETURN_IF_ERROR(
        Keys(root, "",
             {"name", "seed", "workers", "capacity", "clients", "poll_ms", "claim_timeout_ms",
              "latency_ms", "request_timeout_ms", "heal_s", "herd_guard", "late_calls",
              "bound_probes", "real", "worker_memory_mb", "workload", "faults", "explore"}));
    if (!root["name"]) return Error(root, "name", "missing");
    if (!root["name"].IsScalar()) return Error(root["name"], "name", "must be a string");
    s.name = root["name"].as<std::string>();
    // The name becomes a directory under --out: a slug, never a path.
    const bool slug = !s.name.empty() && s.name.size() <= 64 && s.name[0] != '.' &&
                      s.name.find_first_not_of(
                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789._-") == std::string::npos;
    if (!slug) {
      return Error(root["name"], "name",
                   "'" + s.name.substr(0, 64) +
                       "' is not a slug (1..64 of A-Z a-z 0-9 . _ -, not starting with '.')");
    }
    ITHAPPENS_RETURN_IF_ERROR(Bool(root, "late_calls", "", &s.late_calls));
    ITHAPPENS_RETURN_IF_ERROR(Bool(root, "bound_probes", "", &s.bound_probes));
    ITHAPPENS_RETURN_IF_ERROR(Int<uint64_t>(root, "seed", "", 0, UINT64_MAX, &s.seed));
    ITHAPPENS_RETURN_IF_ERROR(Int(root, "workers", "", 1, 1000, &s.workers));
    ITHAPPENS_RETURN_IF_ERROR(Int(root, "capacity", "", 1, 1000, &s.capacity));
    ITHAPPENS_RETURN_IF_ERROR(Int(root, "clients", "", 1, 1000, &s.clients));
    ITHAPPENS_RETURN_IF_ERROR(Int<int64_t>(root, "poll_ms", "", 1, 60'000, &s.poll_ms));
    ITHAPPENS_RETURN_IF_ERROR(
        Int<int64_t>(root, "claim_timeout_ms", "", 100, 86'400'000, &s.claim_timeout_ms));
    ITHAPPENS_RETURN_IF_ERROR(Int<int64_t>(root, "latency_ms", "", 0, 60'000, &s.latency_ms));
    ITHAPPENS_RETURN_IF_ERROR(
        Int<int64_t>(root, "request_timeout_ms", "", 1, 600'000, &s.request_timeout_ms));
    ITHAPPENS_RETURN_IF_ERROR(Seconds(root, "heal_s", "", 7 * 86'400, &s.heal_ms));
    ITHAPPENS_RETURN_IF_ERROR(
        Int<int64_t>(root, "worker_memory_mb", "", 64, 65'536, &s.worker_memory_mb));
    if (YAML::Node g = root["herd_guard"]) {
      ITHAPPENS_RETURN_IF_ERROR(Keys(g, "herd_guard", {"window_s", "max"}));
      ITHAPPENS_RETURN_IF_ERROR(
          Seconds(g, "window_s", "herd_guard", 7 * 86'400, &s.herd_window_ms));
      ITHAPPENS_RETURN_IF_ERROR(Int(g, "max", "herd_guard", 1, 1'000'000, &s.herd_max));
      if (s.herd_window_ms == 0) return Error(g, "herd_guard.window_s", "missing or zero");
      if (s.herd_max == 0) return Error(g, "herd_guard.max", "missing");
    }
    if (YAML::Node r = root["real"]) {
      ITHAPPENS_RETURN_IF_ERROR(Keys(r, "real", {"time_scale", "fsync_error"}));
      if (!r["time_scale"]) return Error(r, "real.time_scale", "missing");
      ITHAPPENS_RETURN_IF_ERROR(
          Int<int64_t>(r, "time_scale", "real", 1, 100'000, &s.real_time_scale));
      std::string mechanism = "libfiu";
      ITHAPPENS_RETURN_IF_ERROR(Name(r, "fsync_error", "real", &mechanism));
      if (mechanism != "libfiu" && mechanism != "powerfs")
        return Error(r["fsync_error"], "real.fsync_error",
                     "'" + mechanism + "' is not libfiu or powerfs");
      s.real_fsync_error_by_powerfs = mechanism == "powerfs";
    }
    YAML::Node wl = root["workload"];
    if (!wl || !wl.IsSequence() || wl.size() == 0)
      return Error(root, "workload", "must be a non-empty list");
    for (size_t i = 0; i < wl.size(); ++i) {
      std::string where = "workload[" + std::to_string(i) + "]";
      const YAML::Node& w = wl[i];
      ITHAPPENS_RETURN_IF_ERROR(Keys(
          w, where, {"kind",     "tasks",      "chains",     "graphs",   "width",    "appointments",
                     "per_s",    "length",     "fail_root",  "at_s",     "every_s",  "until_s",
                     "retries",  "deadline_s", "program",    "hooks",    "schedule", "malformed",
                     "requires", "priority",   "recreate_s", "cancel_s", "rerun_s",
                     "memory_limit_mb"}));
      WorkloadSpec spec;
      spec.line = w.Mark().line + 1;
      ITHAPPENS_RETURN_IF_ERROR(Name(w, "kind", where, &spec.kind));
      if (spec.kind != "batch" && spec.kind != "chain" && spec.kind != "fanout" &&
          spec.kind != "cron" && spec.kind != "rate" && spec.kind != "hook") {
        return Error(w["kind"] ? w["kind"] : w, where + ".kind",
                     "'" + spec.kind + "' is not one of batch, chain, fanout, cron, rate, hook");
      }
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "tasks", where, 1, 1'000'000, &spec.tasks));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "chains", where, 1, 1'000'000, &spec.tasks));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "appointments", where, 1, 1'000'000, &spec.tasks));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "graphs", where, 1, 1'000'000, &spec.tasks));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "hooks", where, 1, 100'000, &spec.tasks));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "width", where, 1, 98, &spec.length));
      ITHAPPENS_RETURN_IF_ERROR(Seconds(w, "every_s", where, 86'400, &spec.every_ms));
      ITHAPPENS_RETURN_IF_ERROR(Seconds(w, "until_s", where, 30 * 86'400, &spec.until_ms));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "length", where, 1, 100, &spec.length));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "retries", where, 0, 49, &spec.retries));
      ITHAPPENS_RETURN_IF_ERROR(Seconds(w, "at_s", where, 30 * 86'400, &spec.at_ms));
      ITHAPPENS_RETURN_IF_ERROR(Int(w, "per_s", where, 1, 1'000'000, &spec.per_s));
      if (spec.kind == "cron" && (spec.every_ms == 0 || spec.until_ms <= spec.at_ms)) {
        return Error(w, where, "cron needs every_s > 0 and until_s after at_s");
      }
      if (spec.kind == "rate" && (spec.per_s == 0 || spec.until_ms <= spec.at_ms)) {
        return Error(w, where, "rate needs per_s > 0 and until_s after at_s");
      }
      if (spec.kind == "hook") {
        if (!w["schedule"]) return Error(w, where + ".schedule", "missing: a 5-field cron");
        if (spec.until_ms <= spec.at_ms) return Error(w, where, "hook needs until_s after at_s");
        ITHAPPENS_RETURN_IF_ERROR(Name(w, "schedule", where, &spec.schedule));
        auto cron = engine::CronSchedule::Parse(spec.schedule);
        if (!cron.ok()) {
          // The engine's message starts with the field: "schedule: minute field '61' ...".
          const std::string& m = cron.status().message();
          const size_t colon = m.find(": ");
          return Error(w["schedule"], where + ".schedule",
                       colon == std::string::npos ? m : m.substr(colon + 2));
        }
        // A bound on the plan: every fire is a planned task.
        int64_t fires = 0;
        for (int64_t t = cron->NextAfter(spec.at_ms); t >= 0 && t <= spec.until_ms;
             t = cron->NextAfter(t)) {
          if (++fires > kMaxFiresPerHook) {
            return Error(w["schedule"], where + ".schedule",
                         "fires more than " + std::to_string(kMaxFiresPerHook) +
                             " times between at_s and until_s");
          }
        }
      } else if (w["schedule"]) {
        return Error(w["schedule"], where + ".schedule", "only a hook workload has a schedule");
      }
      ITHAPPENS_RETURN_IF_ERROR(Seconds(w, "deadline_s", where, 5 * 86'400, &spec.deadline_ms));
      if (spec.deadline_ms == 0)
        return Error(w["deadline_s"], where + ".deadline_s", "must be positive");
      ITHAPPENS_RETURN_IF_ERROR(Bool(w, "fail_root", where, &spec.fail_root));
      ITHAPPENS_RETURN_IF_ERROR(Bool(w, "malformed", where, &spec.malformed));
      ITHAPPENS_RETURN_IF_ERROR(Name(w, "requires", where, &spec.requires_));
      ITHAPPENS_RETURN_IF_ERROR(Name(w, "priority", where, &spec.priority));
      engine::Requires requires_mode;
      if (!engine::Parse(spec.requires_, &requires_mode)) {
        return Error(w["requires"], where + ".requires",
                     "'" + spec.requires_ + "' is not one of all-completed, all-resolved");
      }
      engine::Priority priority;
      if (!engine::Parse(spec.priority, &priority)) {
        return Error(w["priority"], where + ".priority",
                     "'" + spec.priority +
                         "' is not one of highest, very-high, high, medium, low, very-low, "
                         "lowest, normal");
      }
      const int64_t max_after_s = 30 * 86'400;
      for (auto [key, out] : {std::pair{"recreate_s", &spec.recreate_after_ms},
                              {"cancel_s", &spec.cancel_after_ms},
                              {"rerun_s", &spec.rerun_after_ms}}) {
        ITHAPPENS_RETURN_IF_ERROR(Seconds(w, key, where, max_after_s, out));
      }
      if ((spec.kind == "hook" || spec.kind == "cron") &&
          (w["recreate_s"] || w["cancel_s"] || w["rerun_s"])) {
        return Error(w, where,
                     "recreate_s, cancel_s and rerun_s are for batch, chain, fanout "
                     "and rate workloads");
      }
      if (!w["program"] || !w["program"].IsSequence()) {
        return Error(w, where + ".program",
                     "missing: a list of steps (see engine/include/engine/payload.h)");
      }
      ITHAPPENS_RETURN_IF_ERROR(Program(w, where, &spec));
      s.workload.push_back(spec);
    }
    YAML::Node faults = root["faults"];
    if (faults && !faults.IsSequence()) return Error(faults, "faults", "must be a list");
    for (size_t i = 0; faults && i < faults.size(); ++i) {
      std::string where = "faults[" + std::to_string(i) + "]";
      const YAML::Node& f = faults[i];
      ITHAPPENS_RETURN_IF_ERROR(
          Keys(f, where, {"kind", "target", "at_s", "duration_s", "probability"}));
      FaultSpec spec;
      spec.line = f.Mark().line + 1;
      const FaultKind* kind = nullptr;
      ITHAPPENS_RETURN_IF_ERROR(Kind(f, where, &kind));
      spec.kind = kind->id;
      ITHAPPENS_RETURN_IF_ERROR(Name(f, "target", where, &spec.target));
      if (std::string why = CheckFaultTarget(*kind, spec.target, s.workers, s.clients);
          !why.empty()) {
        return Error(f["target"] ? f["target"] : f, where + ".target", why);
      }
      ITHAPPENS_RETURN_IF_ERROR(Seconds(f, "at_s", where, 30 * 86'400, &spec.at_ms));
      ITHAPPENS_RETURN_IF_ERROR(Seconds(f, "duration_s", where, 30 * 86'400, &spec.duration_ms));
      if (spec.duration_ms == 0) return Error(f, where + ".duration_s", "missing or zero");
      spec.probability = kind->default_probability > 0 ? kind->default_probability : 1.0;
      if (f["probability"]) {
        if (kind->default_probability == 0) {
          std::vector<std::string> names;
          for (const FaultKind& k : FaultCatalogue())
            if (k.default_probability > 0) names.emplace_back(k.name);
          std::string takers;
          for (size_t k = 0; k < names.size(); ++k)
            takers += (k == 0 ? "" : k + 1 == names.size() ? " and " : ", ") + names[k];
          return Error(f["probability"], where + ".probability",
                       "only " + takers + " take a probability");
        }
        double p = -1;
        try {
          p = f["probability"].as<double>();
        } catch (const YAML::Exception&) {
        }
        if (!(p > 0 && p <= 1)) {
          return Error(f["probability"], where + ".probability",
                       "'" + f["probability"].as<std::string>("?") + "' is outside (0, 1]");
        }
        spec.probability = p;
      }
      s.faults.push_back(spec);
    }
    if (YAML::Node e = root["explore"]) ITHAPPENS_RETURN_IF_ERROR(Explore(e, &s));
    return s;
  }

  // `key: N` or `key: [lo, hi]` with lo <= hi, each within [min, max].
  template <typename T>
  Status Range(const YAML::Node& map, const char* key, const std::string& where, T min, T max,
               T* lo, T* hi) const {
    YAML::Node n = map[key];
    if (!n) return Status::Ok();
    const std::string field = where + "." + key;
    auto one = [&](const YAML::Node& v, T* out) -> Status {
      try {
        *out = v.as<T>();
      } catch (const YAML::Exception&) {
        return Error(v, field, "'" + v.as<std::string>("?") + "' is not a number");
      }
      if (!(*out >= min && *out <= max)) {
        std::ostringstream os;
        os << v.as<std::string>("?") << " is outside " << min << ".." << max;
        return Error(v, field, os.str());
      }
      return Status::Ok();
    };
    if (n.IsScalar()) {
      ITHAPPENS_RETURN_IF_ERROR(one(n, lo));
      *hi = *lo;
      return Status::Ok();
    }
    if (!n.IsSequence() || n.size() != 2) return Error(n, field, "must be N or [lo, hi]");
    ITHAPPENS_RETURN_IF_ERROR(one(n[0], lo));
    ITHAPPENS_RETURN_IF_ERROR(one(n[1], hi));
    if (*lo > *hi) return Error(n, field, "[lo, hi] with lo above hi");
    return Status::Ok();
  }

  Status Explore(const YAML::Node& e, Scenario* s) const {
    ITHAPPENS_RETURN_IF_ERROR(Keys(e, "explore", {"horizon_s", "faults"}));
    s->explore.given = true;
    ITHAPPENS_RETURN_IF_ERROR(Seconds(e, "horizon_s", "explore", 30 * 86'400, &s->explore.horizon_ms));
    if (e["horizon_s"] && s->explore.horizon_ms == 0)
      return Error(e["horizon_s"], "explore.horizon_s", "must be positive");
    YAML::Node faults = e["faults"];
    if (!faults || !faults.IsSequence() || faults.size() == 0)
      return Error(faults ? faults : e, "explore.faults", "must be a non-empty list");
    for (size_t i = 0; i < faults.size(); ++i) {
      const std::string where = "explore.faults[" + std::to_string(i) + "]";
      const YAML::Node& f = faults[i];
      ITHAPPENS_RETURN_IF_ERROR(
          Keys(f, where, {"kind", "targets", "count", "duration_s", "probability"}));
      ExploreFault spec;
      spec.line = f.Mark().line + 1;
      const FaultKind* kind = nullptr;
      ITHAPPENS_RETURN_IF_ERROR(Kind(f, where, &kind));
      const std::string kind_name(kind->name);
      spec.kind = kind->id;
      if (YAML::Node t = f["targets"]) {
        if (kind->target == FaultTarget::kNone)
          return Error(t, where + ".targets", kind_name + " has no target");
        if (!t.IsSequence() || t.size() == 0)
          return Error(t, where + ".targets", "must be a non-empty list");
        for (size_t k = 0; k < t.size(); ++k) {
          const std::string name = t[k].as<std::string>("");
          if (std::string why = CheckFaultTarget(*kind, name, s->workers, s->clients);
              !why.empty())
            return Error(t[k], where + ".targets[" + std::to_string(k) + "]", why);
          spec.targets.push_back(name);
        }
      }
      ITHAPPENS_RETURN_IF_ERROR(Range<int>(f, "count", where, 0, 100, &spec.count_min,
                                           &spec.count_max));
      int64_t lo_s = 1, hi_s = 0;
      ITHAPPENS_RETURN_IF_ERROR(
          Range<int64_t>(f, "duration_s", where, 1, 30 * 86'400, &lo_s, &hi_s));
      spec.duration_min_ms = lo_s * 1000;
      spec.duration_max_ms = hi_s * 1000;
      if (f["probability"]) {
        if (kind->default_probability == 0)
          return Error(f["probability"], where + ".probability",
                       kind_name + " takes no probability");
        ITHAPPENS_RETURN_IF_ERROR(Range<double>(f, "probability", where, 0.001, 1.0,
                                                &spec.probability_min, &spec.probability_max));
      }
      s->explore.faults.push_back(spec);
    }
    return Status::Ok();
  }

 private:
  std::string file_;
  std::optional<std::string> text_;
};

}  // namespace

engine::Result<Scenario> LoadScenario(const std::string& path) { return Loader(path).Load(); }

engine::Result<Scenario> ParseScenario(const std::string& yaml, const std::string& file) {
  return Loader(file, yaml).Load();
}

int64_t ExploreHorizonMs(const Scenario& s) {
  if (s.explore.horizon_ms > 0) return s.explore.horizon_ms;
  int64_t h = LastFaultEndMs(s.faults);
  for (const WorkloadSpec& w : s.workload) h = std::max({h, w.at_ms, w.until_ms});
  return std::max<int64_t>(h, 1000);
}

namespace {

// A number as YAML writes it back exactly (the shortest form that reads as the same double).
std::string Number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// A string as a double-quoted YAML scalar (JSON's escapes are YAML's).
std::string Quoted(const std::string& v) { return nlohmann::json(v).dump(); }

std::string Seconds(int64_t ms) { return std::to_string(ms / 1000); }

}  // namespace

std::string ScenarioToYaml(const Scenario& s) {
  const Scenario d;  // the defaults: a key equal to its default is left out
  std::ostringstream o;
  o << "name: " << s.name << "\n";
  o << "seed: " << s.seed << "\n";
  o << "workers: " << s.workers << "\n";
  o << "capacity: " << s.capacity << "\n";
  o << "clients: " << s.clients << "\n";
  o << "poll_ms: " << s.poll_ms << "\n";
  o << "claim_timeout_ms: " << s.claim_timeout_ms << "\n";
  o << "latency_ms: " << s.latency_ms << "\n";
  o << "request_timeout_ms: " << s.request_timeout_ms << "\n";
  o << "heal_s: " << Seconds(s.heal_ms) << "\n";
  if (s.worker_memory_mb != d.worker_memory_mb)
    o << "worker_memory_mb: " << s.worker_memory_mb << "\n";
  if (s.herd_window_ms > 0)
    o << "herd_guard: {window_s: " << Seconds(s.herd_window_ms) << ", max: " << s.herd_max
      << "}\n";
  if (s.late_calls) o << "late_calls: true\n";
  if (s.bound_probes) o << "bound_probes: true\n";
  if (s.real_time_scale > 0) {
    o << "real: {time_scale: " << s.real_time_scale
      << (s.real_fsync_error_by_powerfs ? ", fsync_error: powerfs" : "") << "}\n";
  }
  o << "workload:\n";
  for (const WorkloadSpec& w : s.workload) {
    const WorkloadSpec dw;
    o << "  - kind: " << w.kind << "\n";
    const char* count = w.kind == "chain"    ? "chains"
                         : w.kind == "fanout" ? "graphs"
                         : w.kind == "cron"   ? "appointments"
                         : w.kind == "hook"   ? "hooks"
                                              : "tasks";
    if (w.kind == "rate") {
      o << "    per_s: " << w.per_s << "\n";
    } else {
      o << "    " << count << ": " << w.tasks << "\n";
    }
    if (w.kind == "chain") o << "    length: " << w.length << "\n";
    if (w.kind == "fanout") o << "    width: " << w.length << "\n";
    if (w.fail_root) o << "    fail_root: true\n";
    o << "    at_s: " << Seconds(w.at_ms) << "\n";
    if (w.every_ms > 0) o << "    every_s: " << Seconds(w.every_ms) << "\n";
    if (w.until_ms > 0) o << "    until_s: " << Seconds(w.until_ms) << "\n";
    if (!w.schedule.empty()) o << "    schedule: " << Quoted(w.schedule) << "\n";
    if (w.retries != dw.retries) o << "    retries: " << w.retries << "\n";
    if (w.deadline_ms != dw.deadline_ms) o << "    deadline_s: " << Seconds(w.deadline_ms) << "\n";
    if (w.malformed) o << "    malformed: true\n";
    if (w.requires_ != dw.requires_) o << "    requires: " << w.requires_ << "\n";
    if (w.priority != dw.priority) o << "    priority: " << w.priority << "\n";
    if (w.recreate_after_ms >= 0) o << "    recreate_s: " << Seconds(w.recreate_after_ms) << "\n";
    if (w.cancel_after_ms >= 0) o << "    cancel_s: " << Seconds(w.cancel_after_ms) << "\n";
    if (w.rerun_after_ms >= 0) o << "    rerun_s: " << Seconds(w.rerun_after_ms) << "\n";
    // The program is JSON (a flow sequence YAML reads as it is); a budget wraps it.
    nlohmann::json program = nlohmann::json::parse(w.program, nullptr, false);
    if (program.is_object() && program.contains("memory_limit_mb") && program.contains("steps")) {
      o << "    memory_limit_mb: " << program["memory_limit_mb"].dump() << "\n";
      program = program["steps"];
    }
    o << "    program: " << (program.is_discarded() ? w.program : program.dump()) << "\n";
  }
  o << "faults:" << (s.faults.empty() ? " []" : "") << "\n";
  for (const FaultSpec& f : s.faults) {
    const FaultKind& kind = FaultCatalogue()[static_cast<size_t>(f.kind)];
    o << "  - {kind: " << kind.name;
    if (!f.target.empty()) o << ", target: " << f.target;
    o << ", at_s: " << Seconds(f.at_ms) << ", duration_s: " << Seconds(f.duration_ms);
    if (kind.default_probability > 0) o << ", probability: " << Number(f.probability);
    o << "}\n";
  }
  if (s.explore.given) {
    o << "explore:\n";
    if (s.explore.horizon_ms > 0) o << "  horizon_s: " << Seconds(s.explore.horizon_ms) << "\n";
    o << "  faults:\n";
    for (const ExploreFault& f : s.explore.faults) {
      o << "    - {kind: " << Name(f.kind);
      if (!f.targets.empty()) {
        o << ", targets: [";
        for (size_t k = 0; k < f.targets.size(); ++k) o << (k ? ", " : "") << f.targets[k];
        o << "]";
      }
      o << ", count: [" << f.count_min << ", " << f.count_max << "]";
      if (f.duration_max_ms > 0)  // else the default: 1 s up to a quarter of the horizon
        o << ", duration_s: [" << Seconds(f.duration_min_ms) << ", " << Seconds(f.duration_max_ms)
          << "]";
      if (f.probability_max > 0)
        o << ", probability: [" << Number(f.probability_min) << ", " << Number(f.probability_max)
          << "]";
      o << "}\n";
    }
  }
  return o.str();
}

}  // namespace ithappens::harness
