#include "harness/cli/explore.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "engine/hash.h"
#include "harness/load/workload.h"
#include "harness/sim/sim.h"
#include "harness/sim/world.h"

namespace ithappens::harness {
namespace {

// Uniform in [lo, hi] from the simulator's own generator (harness/sim/world.h); an empty
// range draws nothing.
int64_t Uniform(Rng& rng, int64_t lo, int64_t hi) { return hi <= lo ? lo : lo + rng.Below(hi - lo + 1); }
double UniformReal(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng.Next() >> 11) / static_cast<double>(1ULL << 53);
}

// Every target a kind allows in a scenario, in a fixed order.
std::vector<std::string> AllTargets(const FaultKind& kind, int workers, int clients) {
  std::vector<std::string> out;
  if (kind.target == FaultTarget::kNone) return out;
  if (kind.target == FaultTarget::kProcOrAll)
    for (int c = 0; c < clients; ++c) out.push_back("client-" + std::to_string(c));
  for (int w = 0; w < workers; ++w) out.push_back("worker-" + std::to_string(w));
  if (kind.target != FaultTarget::kWorker) out.push_back("all");
  return out;
}

int64_t Scaled(int64_t n, double load) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(n) * load)));
}

std::string FaultText(const FaultSpec& f) {
  const FaultKind& kind = FaultCatalogue()[static_cast<size_t>(f.kind)];
  std::string out(kind.name);
  if (!f.target.empty()) out += " " + f.target;
  out += " at " + std::to_string(f.at_ms / 1000) + " s for " +
         std::to_string(f.duration_ms / 1000) + " s";
  if (kind.default_probability > 0) {
    char p[32];
    std::snprintf(p, sizeof p, " (p %g)", f.probability);
    out += p;
  }
  return out;
}

std::string WorkloadText(const WorkloadSpec& w) {
  std::string n;
  if (w.kind == "rate") {
    n = std::to_string(w.per_s) + "/s from " + std::to_string(w.at_ms / 1000) + " s to " +
        std::to_string(w.until_ms / 1000) + " s";
  } else {
    const char* unit = w.kind == "chain"    ? " chains of "
                       : w.kind == "fanout" ? " graphs of width "
                       : w.kind == "cron"   ? " appointments"
                       : w.kind == "hook"   ? " hooks"
                                            : " tasks";
    n = std::to_string(w.tasks) + unit;
    if (w.kind == "chain" || w.kind == "fanout") n += std::to_string(w.length);
    n += " at " + std::to_string(w.at_ms / 1000) + " s";
  }
  return w.kind + ": " + n + (w.fail_root ? ", failing root" : "");
}

// A workload line shift_ms earlier (its window with it).
void Earlier(WorkloadSpec* w, int64_t shift_ms) {
  w->at_ms -= shift_ms;
  if (w->until_ms > 0) w->until_ms -= shift_ms;
}

// Targets renumbered into a smaller scenario: worker-k -> worker-(k mod workers), the same
// for clients. False if one no longer suits its kind.
bool Retarget(Scenario* s) {
  for (FaultSpec& f : s->faults) {
    for (auto [prefix, count] : {std::pair<std::string, int>{"worker-", s->workers},
                                 std::pair<std::string, int>{"client-", s->clients}}) {
      if (f.target.rfind(prefix, 0) == 0) {
        const int k = std::atoi(f.target.c_str() + prefix.size());
        f.target = prefix + std::to_string(k % count);
      }
    }
    const FaultKind& kind = FaultCatalogue()[static_cast<size_t>(f.kind)];
    if (!CheckFaultTarget(kind, f.target, s->workers, s->clients).empty()) return false;
  }
  return true;
}

}  // namespace

Scenario BakeLoad(const Scenario& s, double load) {
  Scenario out = s;
  if (load == 1.0) return out;
  for (WorkloadSpec& w : out.workload) {
    if (w.kind == "rate") {
      w.per_s = static_cast<int>(Scaled(w.per_s, load));
    } else if (w.kind == "fanout") {
      // As the planner grows a fan-out: wider up to the bound, then more graphs.
      const int width = static_cast<int>(std::clamp<double>(std::round(w.length * load), 1, 98));
      w.tasks = static_cast<int>(std::max<int64_t>(
          1, std::llround(static_cast<double>(w.tasks) * load * w.length / width)));
      w.length = width;
    } else {
      w.tasks = static_cast<int>(Scaled(w.tasks, load));
    }
  }
  return out;
}

Scenario DrawSeedScenario(const Scenario& base, uint64_t seed) {
  Scenario s = base;
  s.seed = seed;
  s.faults.clear();
  s.explore = ExploreSpec{};
  Rng rng(engine::Mix64(seed ^ 0x6578706c6f7265ULL));  // "explore"
  const int64_t horizon_s = std::max<int64_t>(1, ExploreHorizonMs(base) / 1000);
  if (!base.explore.given) {
    for (const FaultSpec& f : base.faults) {
      FaultSpec g = f;
      g.at_ms = Uniform(rng, 0, horizon_s - 1) * 1000;
      g.duration_ms = Uniform(rng, 1, std::max<int64_t>(1, 2 * f.duration_ms / 1000)) * 1000;
      s.faults.push_back(g);
    }
  } else {
    for (const ExploreFault& e : base.explore.faults) {
      const FaultKind& kind = FaultCatalogue()[static_cast<size_t>(e.kind)];
      const std::vector<std::string> targets =
          e.targets.empty() ? AllTargets(kind, base.workers, base.clients) : e.targets;
      const int n = static_cast<int>(Uniform(rng, e.count_min, e.count_max));
      const int64_t lo_s = e.duration_min_ms / 1000;
      const int64_t hi_s =
          e.duration_max_ms > 0 ? e.duration_max_ms / 1000 : std::max(lo_s, horizon_s / 4);
      for (int i = 0; i < n; ++i) {
        FaultSpec g;
        g.kind = e.kind;
        g.line = e.line;
        if (!targets.empty())
          g.target = targets[static_cast<size_t>(Uniform(rng, 0, static_cast<int64_t>(targets.size()) - 1))];
        g.at_ms = Uniform(rng, 0, horizon_s - 1) * 1000;
        g.duration_ms = Uniform(rng, lo_s, hi_s) * 1000;
        g.probability = 1.0;
        if (kind.default_probability > 0) {
          g.probability = kind.default_probability;
          if (e.probability_max > 0) {
            // Three decimals: the file shows what ran.
            const double p = std::round(UniformReal(rng, e.probability_min, e.probability_max) * 1000) / 1000;
            g.probability = std::clamp(p, e.probability_min, e.probability_max);
          }
        }
        s.faults.push_back(g);
      }
    }
  }
  std::stable_sort(s.faults.begin(), s.faults.end(),
                   [](const FaultSpec& a, const FaultSpec& b) { return a.at_ms < b.at_ms; });
  return s;
}

SeedOutcome RunAndCheck(const Scenario& s, const engine::BugSwitches& bugs,
                        const std::string& history_path, std::vector<CheckResult>* results) {
  SeedOutcome o;
  o.seed = s.seed;
  o.faults = static_cast<int64_t>(s.faults.size());
  if (auto st = CheckRunSize(s, 1.0); !st.ok()) {
    o.error = st.message();
    return o;
  }
  SimOptions so{&s, s.seed, 1.0, bugs, history_path, nullptr};
  auto sum = RunSimulation(so);
  if (!sum.ok()) {
    o.error = "the harness failed: " + sum.status().ToString();
    return o;
  }
  o.tasks = sum->tasks;
  o.events = sum->events;
  std::string error;
  std::vector<CheckResult> checked = CheckHistoryFile(history_path, &error);
  if (checked.empty()) {
    o.error = "cannot read back the history: " + error;
    return o;
  }
  o.verdict = Compose(checked);
  for (const CheckResult& r : checked)
    if (r.valid == Validity::kInvalid) o.violated.push_back(r.checker);
  if (results) *results = std::move(checked);
  return o;
}

reports::ScheduleSide Describe(const Scenario& s, const std::string& file) {
  reports::ScheduleSide side;
  side.file = file;
  for (const FaultSpec& f : s.faults) side.faults.push_back(FaultText(f));
  for (const WorkloadSpec& w : s.workload) side.workload.push_back(WorkloadText(w));
  side.workers = s.workers;
  side.clients = s.clients;
  side.capacity = s.capacity;
  side.tasks = static_cast<int64_t>(SizeOfRun(s, 1.0).tasks);
  return side;
}

ShrinkResult Shrink(const Scenario& failing, const std::string& property,
                    const engine::BugSwitches& bugs, const std::string& scratch_dir,
                    int max_runs) {
  ShrinkResult out;
  out.minimal = failing;
  Scenario& cur = out.minimal;
  const std::string history = scratch_dir + "/shrink-" + property + ".jsonl";
  // Does the candidate still violate the property? Every candidate costs one run.
  auto fails = [&](const Scenario& c) {
    if (out.runs >= max_runs) return false;
    ++out.runs;
    const SeedOutcome o = RunAndCheck(c, bugs, history);
    std::error_code ec;
    std::filesystem::remove(history, ec);
    return std::find(o.violated.begin(), o.violated.end(), property) != o.violated.end();
  };
  auto keep = [&](Scenario c, std::string why) {
    cur = std::move(c);
    out.log.push_back(std::move(why));
  };
  // Halving steps toward 1 of an integer field: 1 first, then halves while they fail.
  auto reduce = [&](auto get, auto set, int64_t floor, const std::string& what) {
    bool any = false;
    while (get(cur) > floor && out.runs < max_runs) {
      const int64_t was = get(cur);
      bool kept = false;
      // 1, half, three quarters, one less: a few runs a step, no step left untried.
      int64_t tried[4] = {floor, floor + (was - floor) / 2, was - (was - floor) / 4, was - 1};
      for (size_t t = 0; t < 4; ++t) {
        const int64_t to = tried[t];
        if (to >= was || to < floor || (t > 0 && std::find(tried, tried + t, to) != tried + t))
          continue;
        Scenario c = cur;
        set(c, to);
        if (fails(c)) {
          keep(std::move(c), what + ": " + std::to_string(was) + " -> " + std::to_string(to));
          kept = any = true;
          break;
        }
      }
      if (!kept) break;
    }
    return any;
  };
  for (bool progress = true; progress && out.runs < max_runs;) {
    progress = false;
    // 1. Fewer faults: chunks of half, a quarter, ... one (delta debugging's complement).
    for (size_t chunk = std::max<size_t>(1, cur.faults.size() / 2); chunk >= 1 && !cur.faults.empty();
         chunk /= 2) {
      for (size_t start = 0; start < cur.faults.size() && out.runs < max_runs;) {
        Scenario c = cur;
        const size_t end = std::min(start + chunk, c.faults.size());
        c.faults.erase(c.faults.begin() + static_cast<std::ptrdiff_t>(start),
                       c.faults.begin() + static_cast<std::ptrdiff_t>(end));
        if (fails(c)) {
          keep(std::move(c), "removed " + std::to_string(end - start) + " fault(s) from " +
                                 std::to_string(cur.faults.size()));
          progress = true;
        } else {
          start += chunk;
        }
      }
      if (chunk == 1) break;
    }
    // 2. Fewer workload lines.
    for (size_t w = 0; cur.workload.size() > 1 && w < cur.workload.size() && out.runs < max_runs;) {
      Scenario c = cur;
      c.workload.erase(c.workload.begin() + static_cast<std::ptrdiff_t>(w));
      if (fails(c)) {
        keep(std::move(c), "removed workload line " + std::to_string(w) + " (" +
                               WorkloadText(cur.workload[w]) + ")");
        progress = true;
      } else {
        ++w;
      }
    }
    // 3. Smaller workload lines: fewer tasks, shorter chains, narrower fan-outs, fewer
    //    arrivals.
    for (size_t w = 0; w < cur.workload.size(); ++w) {
      const std::string at = "workload[" + std::to_string(w) + "]";
      if (cur.workload[w].kind == "rate") {
        progress |= reduce([w](const Scenario& s) { return int64_t{s.workload[w].per_s}; },
                           [w](Scenario& s, int64_t v) { s.workload[w].per_s = static_cast<int>(v); },
                           1, at + ".per_s");
        progress |= reduce(
            [w](const Scenario& s) { return (s.workload[w].until_ms - s.workload[w].at_ms) / 1000; },
            [w](Scenario& s, int64_t v) { s.workload[w].until_ms = s.workload[w].at_ms + v * 1000; },
            1, at + " seconds of arrivals (the last ones)");
        progress |= reduce(
            [w](const Scenario& s) { return (s.workload[w].until_ms - s.workload[w].at_ms) / 1000; },
            [w](Scenario& s, int64_t v) { s.workload[w].at_ms = s.workload[w].until_ms - v * 1000; },
            1, at + " seconds of arrivals (the first ones)");
      } else {
        progress |= reduce([w](const Scenario& s) { return int64_t{s.workload[w].tasks}; },
                           [w](Scenario& s, int64_t v) { s.workload[w].tasks = static_cast<int>(v); },
                           1, at + ".count");
      }
      if (cur.workload[w].kind == "chain" || cur.workload[w].kind == "fanout") {
        progress |= reduce([w](const Scenario& s) { return int64_t{s.workload[w].length}; },
                           [w](Scenario& s, int64_t v) { s.workload[w].length = static_cast<int>(v); },
                           1, at + (cur.workload[w].kind == "chain" ? ".length" : ".width"));
      }
    }
    // 4. Fewer workers, clients, slots (fault targets renumbered).
    auto fewer = [&](auto member, const char* what) {
      while (cur.*member > 1 && out.runs < max_runs) {
        Scenario c = cur;
        c.*member -= 1;
        if (!Retarget(&c) || !fails(c)) break;
        keep(std::move(c), std::string(what) + ": " + std::to_string(cur.*member) + " -> " +
                               std::to_string(cur.*member - 1));
        progress = true;
      }
    };
    fewer(&Scenario::workers, "workers");
    fewer(&Scenario::clients, "clients");
    progress |= reduce([](const Scenario& s) { return int64_t{s.capacity}; },
                       [](Scenario& s, int64_t v) { s.capacity = static_cast<int>(v); }, 1,
                       "capacity");
    // 5. Shorter fault windows, then earlier ones.
    for (size_t f = 0; f < cur.faults.size(); ++f) {
      const std::string at = "faults[" + std::to_string(f) + "] (" +
                             std::string(Name(cur.faults[f].kind)) + ")";
      progress |= reduce([f](const Scenario& s) { return s.faults[f].duration_ms / 1000; },
                         [f](Scenario& s, int64_t v) { s.faults[f].duration_ms = v * 1000; }, 1,
                         at + " seconds");
      progress |= reduce([f](const Scenario& s) { return s.faults[f].at_ms / 1000; },
                         [f](Scenario& s, int64_t v) { s.faults[f].at_ms = v * 1000; }, 0,
                         at + " start s");
    }
    // 6. A shorter run: the whole run (workload and faults) earlier, then every workload
    //    line together, then each.
    auto first_at = [](const Scenario& s) {
      int64_t t = INT64_MAX;
      for (const WorkloadSpec& w : s.workload) t = std::min(t, w.at_ms / 1000);
      return t;
    };
    auto first_event = [&first_at](const Scenario& s) {
      int64_t t = first_at(s);
      for (const FaultSpec& f : s.faults) t = std::min(t, f.at_ms / 1000);
      return t;
    };
    progress |= reduce(first_event,
                       [&first_event](Scenario& s, int64_t v) {
                         const int64_t shift = (first_event(s) - v) * 1000;
                         for (WorkloadSpec& w : s.workload) Earlier(&w, shift);
                         for (FaultSpec& f : s.faults) f.at_ms -= shift;
                       },
                       0, "the whole run's start s");
    progress |= reduce(first_at,
                       [&first_at](Scenario& s, int64_t v) {
                         const int64_t shift = (first_at(s) - v) * 1000;
                         for (WorkloadSpec& w : s.workload) Earlier(&w, shift);
                       },
                       0, "workload start s (all lines)");
    for (size_t w = 0; w < cur.workload.size(); ++w) {
      progress |= reduce([w](const Scenario& s) { return s.workload[w].at_ms / 1000; },
                         [w](Scenario& s, int64_t v) {
                           Earlier(&s.workload[w], s.workload[w].at_ms - v * 1000);
                         },
                         0, "workload[" + std::to_string(w) + "] start s");
    }
  }
  return out;
}

ExploreRun Explore(const ExploreOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  // This shard's k-th index.
  const auto index_of = [&](int64_t k) { return o.shard + k * o.shards; };
  const int64_t count =
      o.time_budget_s > 0 ? INT64_MAX
                          : (o.seeds > o.shard ? (o.seeds - o.shard + o.shards - 1) / o.shards : 0);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> stop_at{INT64_MAX};  // the first violating k (no --keep-going)
  std::mutex mu;
  ExploreRun run;
  ExploreProgress progress;
  progress.planned = o.time_budget_s > 0 ? -1 : count;
  auto work = [&] {
    for (;;) {
      if (o.time_budget_s > 0 && elapsed() >= o.time_budget_s) return;
      const int64_t k = next.fetch_add(1);
      if (k >= count || k > stop_at.load()) return;
      const int64_t index = index_of(k);
      const Scenario s = DrawSeedScenario(*o.scenario, ExploreSeed(o.base_seed, index));
      const std::string history =
          o.scratch_dir + "/seed-" + std::to_string(index) + ".jsonl";
      SeedOutcome out = RunAndCheck(s, o.bugs, history);
      std::error_code ec;
      std::filesystem::remove(history, ec);
      out.index = index;
      const bool violated = !out.violated.empty();
      std::lock_guard lock(mu);
      if (violated && !o.keep_going) {
        int64_t cur = stop_at.load();
        while (k < cur && !stop_at.compare_exchange_weak(cur, k)) {
        }
      }
      for (const auto& p : out.violated) ++progress.violations[p];
      run.seeds.push_back(std::move(out));
      ++progress.done;
      progress.elapsed_s = elapsed();
      if (o.progress) o.progress(progress);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < std::max(1, o.jobs); ++j) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  std::sort(run.seeds.begin(), run.seeds.end(),
            [](const SeedOutcome& a, const SeedOutcome& b) { return a.index < b.index; });
  // A run without --keep-going ends at its first violation: what ran past it in parallel
  // is dropped, so J jobs give the seeds one job would have.
  if (stop_at.load() != INT64_MAX) {
    const int64_t last = index_of(stop_at.load());
    run.seeds.erase(std::remove_if(run.seeds.begin(), run.seeds.end(),
                                   [&](const SeedOutcome& s) { return s.index > last; }),
                    run.seeds.end());
    run.stopped_early = true;
  }
  // A time budget may end with gaps (a thread still on a lower index when another took a
  // higher one and then stopped): keep the contiguous prefix, which is deterministic.
  int64_t expect = 0;
  size_t keep = 0;
  for (; keep < run.seeds.size() && run.seeds[keep].index == index_of(expect); ++keep, ++expect) {
  }
  run.seeds.resize(keep);
  run.wall_s = elapsed();
  return run;
}

void Tally(reports::ExploreReport* r) {
  int64_t valid = 0, invalid = 0, unknown = 0;
  for (auto& p : r->properties) {
    p.seeds_violated = 0;
    p.first_index = -1;
  }
  for (const auto& s : r->seeds) {
    (s.verdict == "valid" ? valid : s.verdict == "invalid" ? invalid : unknown) += 1;
    for (const auto& name : s.violated) {
      auto it = std::find_if(r->properties.begin(), r->properties.end(),
                             [&](const reports::ExploreProperty& p) { return p.name == name; });
      if (it == r->properties.end()) {  // a property this build does not know
        r->properties.push_back(reports::ExploreProperty::Named(name));
        it = r->properties.end() - 1;
      }
      if (it->first_index < 0) {
        it->first_index = s.index;
        it->first_seed = s.seed;
      }
      ++it->seeds_violated;
    }
  }
  r->counts = {{"seeds", static_cast<int64_t>(r->seeds.size())},
               {"valid", valid},
               {"invalid", invalid},
               {"unknown", unknown}};
  r->verdict = invalid > 0 ? "invalid" : unknown > 0 ? "unknown" : "valid";
}

engine::Result<reports::ExploreReport> MergeExplore(std::vector<reports::ExploreReport> shards) {
  using engine::Status;
  if (shards.empty()) return Status::InvalidArgument("nothing to merge");
  const reports::ExploreReport& a = shards.front();
  std::set<int> seen;
  for (const auto& s : shards) {
    auto differ = [&](const std::string& what, const std::string& x, const std::string& y) {
      return Status::InvalidArgument("shard " + std::to_string(s.shard) + "/" +
                                     std::to_string(s.shards) + " explored another " + what +
                                     " (" + y + ", not " + x + "): not shards of one run");
    };
    if (s.scenario != a.scenario || s.scenario_digest != a.scenario_digest)
      return differ("scenario", a.scenario + " " + a.scenario_digest,
                    s.scenario + " " + s.scenario_digest);
    if (s.base_seed != a.base_seed || s.seeds_planned != a.seeds_planned)
      return differ("seed range", std::to_string(a.base_seed) + "+" + std::to_string(a.seeds_planned),
                    std::to_string(s.base_seed) + "+" + std::to_string(s.seeds_planned));
    if (s.engine_bugs != a.engine_bugs) return differ("engine", a.engine_bugs, s.engine_bugs);
    if (s.keep_going != a.keep_going)
      return differ("mode", a.keep_going ? "--keep-going" : "stop at the first violation",
                    s.keep_going ? "--keep-going" : "stop at the first violation");
    if (s.shards != a.shards)
      return differ("shard count", std::to_string(a.shards), std::to_string(s.shards));
    if (!s.merged_shards.empty())
      return Status::InvalidArgument("shard " + std::to_string(s.shard) +
                                     " is already a merge: merge the shards themselves");
    if (!seen.insert(s.shard).second)
      return Status::InvalidArgument("shard " + std::to_string(s.shard) + "/" +
                                     std::to_string(s.shards) + " given twice");
  }
  std::string missing;
  for (int i = 0; i < a.shards; ++i)
    if (!seen.count(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  if (!missing.empty())
    return Status::InvalidArgument("shard(s) " + missing + " of " + std::to_string(a.shards) +
                                   " missing: a merge of some shards is not the whole run");
  reports::ExploreReport m = a;
  m.seeds.clear();
  m.wall_s = 0;
  m.jobs = 0;
  m.shard = 0;
  m.stopped_early = false;
  for (const auto& s : shards) {
    m.seeds.insert(m.seeds.end(), s.seeds.begin(), s.seeds.end());
    m.wall_s = std::max(m.wall_s, s.wall_s);  // in parallel: the slowest shard
    m.jobs += s.jobs;
    m.merged_shards.push_back(s.shard);
  }
  std::sort(m.merged_shards.begin(), m.merged_shards.end());
  std::sort(m.seeds.begin(), m.seeds.end(),
            [](const auto& x, const auto& y) { return x.index < y.index; });
  // One run would have stopped at the first violating index of all; the shards covered
  // every index below their own first violation, so below that one too.
  if (!m.keep_going) {
    int64_t first = INT64_MAX;
    for (const auto& s : m.seeds)
      if (!s.violated.empty()) first = std::min(first, s.index);
    if (first != INT64_MAX) {
      m.seeds.erase(std::remove_if(m.seeds.begin(), m.seeds.end(),
                                   [&](const auto& s) { return s.index > first; }),
                    m.seeds.end());
      m.stopped_early = true;
    }
  }
  // A time-budgeted shard covers a prefix of its indices: the merge keeps the indices all
  // shards reached.
  int64_t contiguous = 0;
  while (contiguous < static_cast<int64_t>(m.seeds.size()) &&
         m.seeds[static_cast<size_t>(contiguous)].index == contiguous)
    ++contiguous;
  m.seeds.resize(static_cast<size_t>(contiguous));
  Tally(&m);
  // Each property's details come from the shard that met its first violation.
  for (auto& p : m.properties) {
    const reports::ExploreProperty* from = nullptr;
    for (const auto& s : shards)
      for (const auto& q : s.properties)
        if (q.name == p.name && q.first_index == p.first_index && p.first_index >= 0) from = &q;
    const int64_t violated = p.seeds_violated, first = p.first_index;
    const uint64_t first_seed = p.first_seed;
    if (from) p = *from;
    else
      p = reports::ExploreProperty::Named(p.name);
    p.seeds_violated = violated;
    p.first_index = first;
    p.first_seed = first_seed;
  }
  m.command = "ithappens merge (" + std::to_string(shards.size()) + " shards of: " + a.command + ")";
  return m;
}

}  // namespace ithappens::harness
