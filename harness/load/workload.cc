#include "harness/load/workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "engine/cron.h"
#include "engine/payload.h"
#include "harness/history/history.h"

namespace ithappens::harness {
namespace {

size_t Count(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string_view::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

std::string ExpandOrdinal(const std::string& text, int64_t i) {
  // Built at its exact size: the text is a task's payload, kept by the engine for every
  // task (replacing in place doubles the capacity once the digits outgrow "{i}").
  const std::string digits = std::to_string(i);
  const size_t n = Count(text, "{i}");
  std::string out;
  out.reserve(text.size() + n * digits.size() - n * 3);
  size_t from = 0;
  for (size_t p; (p = text.find("{i}", from)) != std::string::npos; from = p + 3)
    out.append(text, from, p - from).append(digits);
  out.append(text, from);
  return out;
}

std::string EffectTo(const worker::Step& st, int64_t ordinal) {
  return ordinal < 0 ? st.to : ExpandOrdinal(st.to, ordinal);
}

namespace {

using nlohmann::json;

}  // namespace

ProgramCache::ProgramCache(std::string program) : text_(std::move(program)) {
  template_ = std::make_shared<const engine::Result<worker::Program>>(worker::ParsePayload(text_));
  // Exact when the text has no escapes (its strings are their bytes) and every "{i}" of the
  // text is inside an effect's `to`: then Expand changes those strings only.
  size_t in_to = 0;
  if (template_->ok()) {
    for (const auto& st : (*template_)->steps)
      if (st.kind == worker::Step::Kind::kEffect) in_to += Count(st.to, "{i}");
  }
  const size_t in_text = Count(text_, "{i}");
  same_ = template_->ok() && in_text == 0;
  substitute_ =
      template_->ok() && in_text > 0 && in_to == in_text && text_.find('\\') == std::string::npos;
}

std::shared_ptr<const engine::Result<worker::Program>> ProgramCache::For(
    int64_t i, const std::string& expanded) const {
  if (same_) return template_;
  if (substitute_) {
    worker::Program p = template_->value();
    bool fits = true;
    for (auto& st : p.steps) {
      if (st.kind != worker::Step::Kind::kEffect) continue;
      st.to = ExpandOrdinal(st.to, i);
      fits &= st.to.size() <= 255;  // else the parser names the bound: parse the text
    }
    if (fits) return std::make_shared<const engine::Result<worker::Program>>(std::move(p));
  }
  return std::make_shared<const engine::Result<worker::Program>>(worker::ParsePayload(expanded));
}

std::shared_ptr<const engine::Result<worker::Program>> ProgramCache::Shared(
    int64_t i, bool* substitute) const {
  *substitute = substitute_;
  if (same_) return template_;
  if (!substitute_) return nullptr;
  const size_t digits = std::to_string(i).size();
  for (const auto& st : (*template_)->steps) {
    if (st.kind != worker::Step::Kind::kEffect) continue;
    // Each "{i}" (3 bytes) becomes i's digits; over 255 the parser names the bound (For).
    const size_t n = Count(st.to, "{i}");
    if (st.to.size() - n * 3 + n * digits > 255) return nullptr;
  }
  return template_;
}

namespace {

// The outcome a correct platform must reach for a program with `retries` (ground truth),
// and in *effect_steps how many of its steps a run may get through: the effects among them
// are every notification a run of it may deliver (a later run gets past an intermittent
// step: a rerun, for one).
std::string_view Expect(const engine::Result<worker::Program>& p, int retries, int64_t worker_mb,
                        int32_t* effect_steps) {
  *effect_steps = 0;
  if (!p.ok()) return "exception";
  std::string_view outcome;
  int64_t allocated_mb = 0;
  for (size_t k = 0; k < p->steps.size(); ++k) {
    const auto& st = p->steps[k];
    using K = worker::Step::Kind;
    // Past its own memory budget the program fails: user code (DESIGN.md, attribution).
    if (st.kind == K::kAlloc) allocated_mb += st.value;
    if (p->memory_limit_mb > 0 && allocated_mb > p->memory_limit_mb) {
      return outcome.empty() ? "failed" : outcome;
    }
    // Past the worker's own memory, every run kills its worker (the OOM killer): no run
    // ever reports, each expires, and the retries run out (a poison pill).
    if (allocated_mb >= worker_mb) return "exception";
    *effect_steps = static_cast<int32_t>(k + 1);
    if (st.kind == K::kExit) {
      return !outcome.empty() ? outcome : st.value == 0 ? "completed" : "failed";
    }
    if (st.kind == K::kCrash) return outcome.empty() ? "failed" : outcome;
    if (st.kind == K::kFailIfAttemptBelow && st.value - 1 > retries && outcome.empty())
      outcome = "exception";
  }
  *effect_steps = static_cast<int32_t>(p->steps.size());
  return outcome.empty() ? "completed" : outcome;
}

}  // namespace

Outcome::Outcome(std::string_view name) {
  for (size_t k = 0; k < kNames.size(); ++k) {
    if (kNames[k] == name) {
      code_ = static_cast<uint8_t>(k);
      return;
    }
  }
  throw std::logic_error("planned outcome: '" + std::string(name) +
                         "' is none of completed, failed, exception, blocked");
}

std::vector<PlannedEffect> PlannedTask::Effects() const {
  std::vector<PlannedEffect> out;
  if (!program || !program->ok()) return out;
  const std::vector<worker::Step>& steps = (*program)->steps;
  for (size_t k = 0; k < static_cast<size_t>(effect_steps) && k < steps.size(); ++k) {
    if (steps[k].kind == worker::Step::Kind::kEffect)
      out.push_back(PlannedEffect{static_cast<int64_t>(k), steps[k].channel,
                                  EffectTo(steps[k], ProgramOrdinal())});
  }
  return out;
}

std::string PlannedTask::PlanJson() const {
  const std::vector<PlannedEffect> effects = Effects();
  // Keys in sorted order, as nlohmann writes objects (a test compares the two).
  std::string out = "{\"deps\":[";
  for (size_t k = 0; k < def->dependencies.size(); ++k) {
    if (k) out.push_back(',');
    AppendJsonString(&out, def->dependencies[k]);
  }
  out.append("],\"effects\":[");
  for (size_t k = 0; k < effects.size(); ++k) {
    const PlannedEffect& fx = effects[k];
    out.append(k ? ",{\"channel\":" : "{\"channel\":");
    AppendJsonString(&out, fx.channel);
    out.append(",\"step\":").append(std::to_string(fx.step)).append(",\"to\":");
    AppendJsonString(&out, fx.to);
    out.push_back('}');
  }
  out.append("],\"expect\":");
  AppendJsonString(&out, expect);
  out.append(",\"program\":");
  AppendJsonString(&out, def->payload);
  out.append(",\"requires\":\"").append(engine::ToString(def->requires_)).push_back('"');
  out.append(",\"retries\":").append(std::to_string(def->retries));
  if (!root.empty()) {
    out.append(",\"root\":");
    AppendJsonString(&out, root);
  }
  out.append(",\"runs_as\":");
  AppendJsonString(&out, runs_as.empty() ? expect : runs_as);
  out.push_back('}');
  return out;
}

json PlannedHook::PlanValue(const std::vector<PlannedTask>& tasks) const {
  json fires = json::array();
  for (size_t k = 0; k < fire_ms.size(); ++k)
    fires.push_back({{"at_ms", fire_ms[k]}, {"task", tasks[fire_tasks[k]].def->task_id}});
  return {{"hook", def.hook_id},  {"key", def.key}, {"schedule", def.schedule}, {"at_ms", at_ms},
          {"until_ms", until_ms}, {"fires", fires}, {"next_ms", next_ms}};
}

std::vector<Submission> ExpandSubmissions(const Workload& w) {
  std::vector<Submission> out;
  WorkloadGenerator g(w);
  while (auto s = g.Next()) out.push_back(std::move(*s));
  return out;
}

int64_t HookCandidatesUntilMs(const Scenario& s, const WorkloadSpec& spec) {
  std::vector<FaultSpec> faults = s.faults;
  std::sort(faults.begin(), faults.end(),
            [](const FaultSpec& a, const FaultSpec& b) { return a.at_ms < b.at_ms; });
  int64_t held = spec.until_ms;  // the removal may be held up until then
  for (const FaultSpec& f : faults) {
    if (f.at_ms <= held && f.at_ms + f.duration_ms > held) held = f.at_ms + f.duration_ms;
  }
  return held > spec.until_ms ? held + kHookRemovalSlackMs : spec.until_ms;
}

namespace {
// One hook per ordinal; each candidate fire becomes a planned task.
void PlanHooks(const Scenario& s, size_t w, int64_t n, int64_t epoch_ms, Workload* out) {
  const WorkloadSpec& spec = s.workload[w];
  auto cron = engine::CronSchedule::Parse(spec.schedule);
  if (!cron.ok()) return;  // the scenario loader refused it already
  for (int64_t i = 0; i < n; ++i) {
    PlannedHook h;
    h.def.hook_id = s.name + "/workload-" + std::to_string(w) + "/hook-" + std::to_string(i);
    h.def.key = "hook-" + std::to_string(i);
    h.def.schedule = spec.schedule;
    engine::TaskDefinition& t = h.def.task_template;
    t.task_group_id = engine::DeterministicTaskId(s.name, static_cast<int64_t>(w), "group");
    t.retries = spec.retries;
    t.payload = ExpandOrdinal(spec.program, i);
    t.deadline_ms = spec.deadline_ms;  // an offset from the fire time
    t.metadata.name = s.name + "/" + std::to_string(w) + "/hook-" + std::to_string(i);
    h.client = static_cast<int>(i % s.clients);
    h.at_ms = spec.at_ms;
    h.until_ms = spec.until_ms;
    int32_t effect_steps = 0;
    // Every fire runs the same program: parsed once.
    auto program =
        std::make_shared<const engine::Result<worker::Program>>(worker::ParsePayload(t.payload));
    const std::string_view expect =
        Expect(*program, spec.retries, s.worker_memory_mb, &effect_steps);
    const int64_t candidates_until_ms = HookCandidatesUntilMs(s, spec);
    for (int64_t abs = cron->NextAfter(epoch_ms + spec.at_ms); abs >= 0;
         abs = cron->NextAfter(abs)) {
      const bool after_until = abs > epoch_ms + candidates_until_ms;
      if (after_until && !h.fire_ms.empty() && h.fire_ms.back() > candidates_until_ms) {
        h.next_ms = abs - epoch_ms;
        break;
      }
      PlannedTask p;
      p.def = std::make_shared<engine::TaskDefinition>(t);
      p.def->task_id = engine::DeterministicTaskId(h.def.hook_id, abs, h.def.key);
      p.client = h.client;
      p.expect = expect;
      p.runs_as = expect;
      p.effect_steps = effect_steps;
      p.program = program;
      p.deadline_after_ms = spec.deadline_ms;
      p.created_at_ms = abs - epoch_ms;
      h.fire_ms.push_back(abs - epoch_ms);
      h.fire_tasks.push_back(out->tasks.size());
      out->tasks.push_back(std::move(p));
    }
    out->hooks.push_back(std::move(h));
  }
  out->last_ms = std::max(out->last_ms, spec.until_ms);
}
}  // namespace

engine::TaskDefinition ChangedDefinition(const engine::TaskDefinition& def, int64_t which,
                                         std::string* field) {
  engine::TaskDefinition d = def;
  switch (which % 10) {
    case 5:
      d.requires_ = d.requires_ == engine::Requires::kAllCompleted
                        ? engine::Requires::kAllResolved
                        : engine::Requires::kAllCompleted;
      *field = "requires";
      return d;
    case 6:
      d.task_group_id = engine::DeterministicTaskId("changed-group", which, "group");
      *field = "taskGroupId";
      return d;
    case 7:
      d.expires_ms = (d.expires_ms == 0 ? d.deadline_ms + engine::kDefaultExpiresAfterDeadlineMs
                                        : d.expires_ms) +
                     1000;
      *field = "expires";
      return d;
    case 8:
      d.routes.push_back("notify.email.changed-" + std::to_string(which) + ".on-failed");
      *field = "routes";
      return d;
    case 9:
      d.metadata.name += " (changed)";
      *field = "metadata";
      return d;
    default:
      break;
  }
  switch (which % 5) {
    case 0:
      d.deadline_ms += 1000;
      *field = "deadline";
      break;
    case 1:
      d.retries = d.retries == 0 ? 1 : d.retries - 1;
      *field = "retries";
      break;
    case 2:
      d.payload = R"([{"exit":0}])" == d.payload ? R"([{"exit":1}])" : R"([{"exit":0}])";
      *field = "payload";
      break;
    case 3:
      d.priority = d.priority == engine::Priority::kHighest ? engine::Priority::kLow
                                                            : engine::Priority::kHighest;
      *field = "priority";
      break;
    default:
      if (d.dependencies.empty()) {
        d.dependencies.push_back(engine::DeterministicTaskId("changed-dependency", which, "dep"));
      } else {
        d.dependencies.pop_back();
      }
      *field = "dependencies";
      break;
  }
  return d;
}

std::vector<BoundProbe> BoundProbes(const std::string& scenario, int64_t now_ms) {
  using engine::TaskDefinition;
  std::vector<BoundProbe> out;
  int64_t n = 0;
  auto base = [&] {
    TaskDefinition d;
    d.task_id = engine::DeterministicTaskId(scenario + "/probe", n++, "probe");
    d.retries = 0;
    d.created_ms = now_ms;
    d.deadline_ms = now_ms + 3'600'000;
    d.payload = R"([{"exit":0}])";
    d.metadata.name = scenario + "/probe";
    return d;
  };
  auto add = [&](TaskDefinition d, bool accept, std::string bound) {
    out.push_back(BoundProbe{std::move(d), accept, std::move(bound)});
  };
  std::vector<std::string> pool;
  for (size_t k = 0; k <= engine::kMaxDependencies; ++k) {
    TaskDefinition d = base();
    pool.push_back(d.task_id);
    add(std::move(d), true, "dependencies pool");
  }
  for (int r : {engine::kMaxRetries, engine::kMaxRetries + 1}) {
    TaskDefinition d = base();
    d.retries = r;
    add(std::move(d), r <= engine::kMaxRetries, "retries " + std::to_string(r));
  }
  for (int64_t after :
       {engine::kMaxDeadlineAfterCreatedMs, engine::kMaxDeadlineAfterCreatedMs + 1, int64_t{0}}) {
    TaskDefinition d = base();
    d.deadline_ms = d.created_ms + after;
    add(std::move(d), after > 0 && after <= engine::kMaxDeadlineAfterCreatedMs,
        "deadline created+" + std::to_string(after) + " ms");
  }
  for (size_t size : {engine::kMaxPayloadBytes, engine::kMaxPayloadBytes + 1}) {
    TaskDefinition d = base();
    d.payload.append(size - d.payload.size(), ' ');  // JSON allows the spaces
    add(std::move(d), size <= engine::kMaxPayloadBytes,
        "payload " + std::to_string(size) + " bytes");
  }
  for (size_t deps : {engine::kMaxDependencies, engine::kMaxDependencies + 1}) {
    TaskDefinition d = base();
    d.dependencies.assign(pool.begin(), pool.begin() + static_cast<ptrdiff_t>(deps));
    add(std::move(d), deps <= engine::kMaxDependencies, "dependencies " + std::to_string(deps));
  }
  {
    TaskDefinition d = base();
    d.dependencies = {engine::DeterministicTaskId(scenario + "/probe", -1, "nobody")};
    add(std::move(d), false, "dependencies: a task that does not exist");
    TaskDefinition self = base();
    self.dependencies = {self.task_id};
    add(std::move(self), false, "dependencies: itself");
    TaskDefinition twice = base();
    twice.dependencies = {pool[0], pool[0]};
    add(std::move(twice), false, "dependencies: one listed twice");
    TaskDefinition bad_id = base();
    bad_id.task_id = "not-a-slug!";
    add(std::move(bad_id), false, "taskId: not a slug");
  }
  for (int64_t skew_min : {-14, -16, 16}) {
    TaskDefinition d = base();
    d.created_ms = now_ms + skew_min * 60'000;
    d.deadline_ms = d.created_ms + 3'600'000;
    add(std::move(d), std::abs(skew_min) < 15,
        "created " + std::to_string(skew_min) + " min from now");
  }
  for (int64_t before : {int64_t{0}, int64_t{1}}) {
    TaskDefinition d = base();
    d.expires_ms = d.deadline_ms - before;
    add(std::move(d), before == 0, "expires deadline-" + std::to_string(before) + " ms");
  }
  for (size_t routes : {engine::kMaxRoutes, engine::kMaxRoutes + 1}) {
    TaskDefinition d = base();
    for (size_t k = 0; k < routes; ++k) d.routes.push_back("route." + std::to_string(k));
    add(std::move(d), routes <= engine::kMaxRoutes, "routes " + std::to_string(routes));
  }
  for (size_t len : {engine::kMaxRouteLength, engine::kMaxRouteLength + 1, size_t{0}}) {
    TaskDefinition d = base();
    d.routes = {std::string(len, 'r')};
    add(std::move(d), len > 0 && len <= engine::kMaxRouteLength,
        "a route of " + std::to_string(len) + " characters");
  }
  for (size_t len : {engine::kMaxMetadataNameLength, engine::kMaxMetadataNameLength + 1}) {
    TaskDefinition d = base();
    d.metadata.name = std::string(len, 'n');
    add(std::move(d), len <= engine::kMaxMetadataNameLength,
        "metadata.name of " + std::to_string(len) + " characters");
  }
  return out;
}

std::string DefinitionDigest(const engine::TaskDefinition& def) {
  const DigestText text = DefinitionDigestText(def);
  return std::string(text.data(), text.size());
}

DigestText DefinitionDigestText(const engine::TaskDefinition& def) {
  // FNV-1a over the fields, each with its length, in the engine's comparison order.
  uint64_t h = 1469598103934665603ULL;
  auto bytes = [&h](std::string_view s) {
    const uint64_t n = s.size();
    for (int k = 0; k < 8; ++k) h = (h ^ ((n >> (8 * k)) & 0xff)) * 1099511628211ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  auto number = [&bytes](int64_t v) { bytes(std::to_string(v)); };
  bytes(def.task_id);
  bytes(def.task_group_id.empty() ? def.task_id : def.task_group_id);
  number(static_cast<int64_t>(def.dependencies.size()));
  for (const auto& d : def.dependencies) bytes(d);
  bytes(engine::ToString(def.requires_));
  number(def.retries);
  number(def.created_ms);
  number(def.deadline_ms);
  number(def.expires_ms == 0 ? def.deadline_ms + engine::kDefaultExpiresAfterDeadlineMs
                             : def.expires_ms);
  bytes(engine::ToString(def.priority));
  number(static_cast<int64_t>(def.routes.size()));
  for (const auto& r : def.routes) bytes(r);
  bytes(def.payload);
  bytes(def.metadata.name);
  bytes(def.metadata.description);
  bytes(def.metadata.owner);
  bytes(def.metadata.source);
  DigestText text;
  for (size_t k = 0; k < text.size(); ++k) text[k] = "0123456789abcdef"[(h >> (60 - 4 * k)) & 0xf];
  return text;
}

Workload PlanWorkload(const Scenario& s, double load, int64_t epoch_ms) {
  Workload out;
  // The plan's size is known: no doubling of a vector of large records (up to twice the
  // memory, and every record moved on the way).
  out.tasks.reserve(static_cast<size_t>(SizeOfRun(s, load).tasks));
  for (size_t w = 0; w < s.workload.size(); ++w) {
    const WorkloadSpec& spec = s.workload[w];
    const double base = spec.kind == "rate"
                            ? spec.per_s * static_cast<double>(spec.until_ms - spec.at_ms) / 1000.0
                            : spec.tasks;
    int64_t n = std::max<int64_t>(1, static_cast<int64_t>(base * load + 0.5));
    if (spec.kind == "hook") {
      PlanHooks(s, w, n, epoch_ms, &out);
      continue;
    }
    // The fan-out grows with the load as far as the engine's bound on dependencies lets
    // the join wait for every child; the rest of the growth is more graphs, so the task
    // count still scales with the load.
    int width = spec.length;
    if (spec.kind == "fanout") {
      width = static_cast<int>(std::clamp<double>(std::round(spec.length * load), 1,
                                                  static_cast<double>(engine::kMaxDependencies)));
      n = std::max<int64_t>(
          1, static_cast<int64_t>(std::round(spec.tasks * load * spec.length / width)));
    }
    // chain: a line of `length`; fanout: a root, `width` children, then a join of all.
    const int length = spec.kind == "chain" ? spec.length : spec.kind == "fanout" ? width + 2 : 1;
    const std::string group = engine::DeterministicTaskId(s.name, static_cast<int64_t>(w), "group");
    const std::string id_base = s.name + "/workload-" + std::to_string(w);
    const ProgramCache programs(spec.program);
    const ProgramCache failing_root(R"([{"exit":1}])");
    std::vector<size_t> chain;
    for (int64_t i = 0; i < n; ++i) {
      chain.clear();
      for (int k = 0; k < length; ++k) {
        PlannedTask t;
        const int64_t ordinal = i * length + k;
        t.def = std::make_shared<engine::TaskDefinition>();
        t.def->task_id = engine::DeterministicTaskId(id_base, ordinal, "task");
        t.def->task_group_id = group;
        t.def->retries = spec.retries;
        t.def->payload =
            (k == 0 && spec.fail_root) ? R"([{"exit":1}])" : ExpandOrdinal(spec.program, ordinal);
        std::string& name = t.def->metadata.name;  // at its exact size, as the payload
        const std::string w_text = std::to_string(w), ordinal_text = std::to_string(ordinal);
        name.reserve(s.name.size() + w_text.size() + ordinal_text.size() + 2);
        name.append(s.name).append("/").append(w_text).append("/").append(ordinal_text);
        t.client = static_cast<int>(ordinal % s.clients);
        t.deadline_after_ms = spec.deadline_ms;
        if (spec.kind == "cron") t.created_at_ms = spec.at_ms;
        // One parse for the whole workload where the template, with the ordinal put in its
        // effects' `to` as they are delivered, is exactly this task's program; else its own.
        const ProgramCache& cache = (k == 0 && spec.fail_root) ? failing_root : programs;
        bool substitute = false;
        t.program = cache.Shared(ordinal, &substitute);
        t.substitute = t.program && substitute;
        if (!t.program) t.program = cache.For(ordinal, t.def->payload);
        t.expect = Expect(*t.program, spec.retries, s.worker_memory_mb, &t.effect_steps);
        t.runs_as = t.expect;
        std::vector<size_t> deps;
        if (spec.kind == "fanout" && k == length - 1) {
          deps.assign(chain.begin() + 1, chain.end());  // the join waits for every child
        } else if (spec.kind == "fanout" && k > 0) {
          deps = {chain.front()};  // a child depends on the root
        } else if (k > 0) {
          deps = {chain.back()};
        }
        for (size_t d : deps) t.def->dependencies.push_back(out.tasks[d].def->task_id);
        engine::Parse(spec.requires_, &t.def->requires_);
        engine::Parse(spec.priority, &t.def->priority);
        t.ordinal = ordinal;
        t.recreate_after_ms = spec.recreate_after_ms;
        if (k == length - 1) {  // nothing depends on the last task of a chain or graph
          t.cancel_after_ms = spec.cancel_after_ms;
          t.rerun_after_ms = spec.rerun_after_ms;
        }
        // Blocked by the first dependency that does not complete (the engine's blockedBy
        // walks dependencies in order too); under all-resolved only a dependency that never
        // resolves (itself blocked) blocks.
        for (size_t d : deps) {
          const PlannedTask& dep = out.tasks[d];
          if (dep.expect == "completed") continue;
          if (t.def->requires_ == engine::Requires::kAllResolved && dep.expect != "blocked")
            continue;
          t.expect = "blocked";
          t.root = dep.expect == "blocked" ? dep.root.view() : std::string_view(dep.def->task_id);
          break;
        }
        // A blocked task delivers nothing, unless a rerun makes it run anyway.
        if (t.expect == "blocked" && t.rerun_after_ms < 0) t.effect_steps = 0;
        chain.push_back(out.tasks.size());
        out.tasks.push_back(std::move(t));
      }
      const TaskRange tasks{chain.front(), chain.size()};  // pushed one after the other
      if (spec.kind == "cron") {
        // The filler re-submits the same task every every_ms until until_ms.
        out.submissions.push_back(Submission{spec.at_ms, tasks, spec.every_ms,
                                             (spec.until_ms - spec.at_ms) / spec.every_ms + 1});
      } else if (spec.kind == "rate") {
        // Open loop: arrivals evenly spaced over [at, until), whatever the platform does.
        out.submissions.push_back(
            Submission{spec.at_ms + i * (spec.until_ms - spec.at_ms) / n, tasks});
      } else {
        out.submissions.push_back(Submission{spec.at_ms, tasks});
      }
      out.last_ms = std::max(out.last_ms, spec.until_ms > 0 ? spec.until_ms : spec.at_ms);
    }
  }
  return out;
}

RunSize SizeOfRun(const Scenario& s, double load) {
  RunSize size;
  int64_t last_ms = LastFaultEndMs(s.faults);
  for (const WorkloadSpec& spec : s.workload) {
    const double base = spec.kind == "rate"
                            ? spec.per_s * static_cast<double>(spec.until_ms - spec.at_ms) / 1000.0
                            : spec.tasks;
    double n = std::max(1.0, std::floor(base * load + 0.5));
    double per_unit = spec.kind == "chain" ? spec.length : 1;
    if (spec.kind == "fanout") {
      const double width = std::clamp<double>(std::round(spec.length * load), 1,
                                              static_cast<double>(engine::kMaxDependencies));
      n = std::max(1.0, std::round(spec.tasks * load * spec.length / width));
      per_unit = width + 2;
    }
    if (spec.kind == "hook") {
      // Every candidate fire is a planned task: the fires in (at, until] (later while
      // faults may hold up the removal) and the next one.
      double fires = 1;
      const int64_t until = HookCandidatesUntilMs(s, spec);
      if (auto cron = engine::CronSchedule::Parse(spec.schedule); cron.ok()) {
        for (int64_t t = cron->NextAfter(spec.at_ms); t >= 0 && t <= until;
             t = cron->NextAfter(t)) {
          if (++fires > kMaxFiresPerHook + 1) break;
        }
      }
      per_unit = fires;
    }
    const double tasks = n * per_unit;
    size.tasks += tasks;
    double creates = spec.kind == "hook" ? 0 : tasks;
    if (spec.kind == "cron") creates *= std::floor((spec.until_ms - spec.at_ms) / spec.every_ms) + 1;
    if (spec.recreate_after_ms >= 0) creates += 2 * tasks;  // identical, then changed
    size.creates += creates;
    int64_t effect_steps = 0;
    if (!spec.malformed) {
      std::string program = spec.program;
      for (size_t p; (p = program.find("{i}")) != std::string::npos;) program.replace(p, 3, "0");
      if (auto parsed = worker::ParsePayload(program); parsed.ok()) {
        for (const auto& st : parsed->steps) effect_steps += st.kind == worker::Step::Kind::kEffect;
      }
    }
    size.effects += tasks * static_cast<double>(effect_steps);
    const int64_t later =
        std::max({spec.recreate_after_ms, spec.cancel_after_ms, spec.rerun_after_ms, int64_t{0}});
    last_ms = std::max({last_ms, spec.at_ms + later, spec.until_ms + later});
  }
  size.horizon_s = static_cast<double>(last_ms + s.heal_ms) / 1000.0;
  size.polls = s.workers * std::ceil(static_cast<double>(last_ms + s.heal_ms) / s.poll_ms);
  return size;
}

engine::Status CheckRunSize(const Scenario& s, double load) {
  const RunSize size = SizeOfRun(s, load);
  char load_text[32];
  std::snprintf(load_text, sizeof load_text, "%g", load);
  auto refuse = [&](const char* what, double total, double bound, const std::string& lower) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s: at --load %sx the run %s %.0f, over the bound of %.0f per run "
                  "(docs/scenarios.md, \"Bounds\"): lower %s",
                  s.file.c_str(), load_text, what, total, bound, lower.c_str());
    return engine::Status::InvalidArgument(buf);
  };
  if (size.tasks > kMaxRunTasks)
    return refuse("plans tasks:", size.tasks, kMaxRunTasks,
                  "tasks, chains, graphs, hooks, per_s x (until_s - at_s), or --load");
  if (size.creates > kMaxRunCreates)
    return refuse("sends creates:", size.creates, kMaxRunCreates,
                  "the tasks, a cron filler's (until_s - at_s) / every_s, or --load");
  if (size.effects > kMaxRunEffects)
    return refuse("may deliver effects:", size.effects, kMaxRunEffects,
                  "the tasks, the effect steps per program, or --load");
  if (size.polls > kMaxRunPolls) {
    char what[128];
    std::snprintf(what, sizeof what, "makes worker polls (%d workers over %.0f s every %lld ms):",
                  s.workers, size.horizon_s, static_cast<long long>(s.poll_ms));
    return refuse(what, size.polls, kMaxRunPolls,
                  "workers, the last at_s/until_s/fault, heal_s, or raise poll_ms");
  }
  return engine::Status::Ok();
}

}  // namespace ithappens::harness
