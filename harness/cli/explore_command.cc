// `ithappens explore` and `ithappens merge` (harness/cli/explore.h has the machinery).
#include "harness/cli/explore_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine/hash.h"
#include "harness/cli/explore.h"
#include "harness/cli/outputs.h"
#include "harness/load/workload.h"
#include "reports/report.h"

namespace ithappens::harness {
namespace {

namespace fs = std::filesystem;

// "10m", "90s", "1h" (also "1.5h"): seconds in (0, 7 days]; false with *why otherwise.
bool ParseDuration(const std::string& text, double* seconds, std::string* why) {
  double unit = 0;
  if (!text.empty()) {
    switch (text.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      default: break;
    }
  }
  double n = 0;
  size_t used = 0;
  try {
    n = unit > 0 ? std::stod(text.substr(0, text.size() - 1), &used) : 0;
  } catch (const std::exception&) {
    used = 0;
  }
  if (unit == 0 || used == 0 || used != text.size() - 1) {
    *why = "'" + text + "' is not a duration like 90s, 10m or 1h";
    return false;
  }
  *seconds = n * unit;
  if (!(*seconds > 0 && *seconds <= 7 * 86'400.0)) {
    *why = "'" + text + "' is outside (0 s, 7 days]";
    return false;
  }
  return true;
}

// "i/n" with 0 <= i < n <= 10000.
bool ParseShard(const std::string& text, int* i, int* n, std::string* why) {
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d/%d%c", i, n, &extra) != 2 || *n < 1 || *n > 10'000 || *i < 0 ||
      *i >= *n) {
    *why = "'" + text + "' is not i/n with 0 <= i < n <= 10000 (e.g. 0/4 .. 3/4)";
    return false;
  }
  return true;
}

bool WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// The first violation of one property, shrunk and run again for its report.
struct Shrunk {
  reports::ExploreProperty property;
  bool ok = false;
  std::string error;
};

Shrunk ShrinkOne(const Scenario& base, const std::string& base_file, const fs::path& dir,
                 const fs::path& scratch, const reports::ExploreProperty& p,
                 const engine::BugSwitches& bugs, const std::string& bug_args, int max_runs) {
  Shrunk out;
  out.property = p;
  reports::ExploreProperty& q = out.property;
  const Scenario original = DrawSeedScenario(base, p.first_seed);
  const std::string seed_file = "seed-" + std::to_string(p.first_seed) + ".yaml";
  if (!WriteFile(dir / seed_file,
                 "# Seed " + std::to_string(p.first_seed) + " of `ithappens explore " + base_file +
                     "`: its drawn schedule, as it ran.\n" + ScenarioToYaml(original))) {
    out.error = "cannot write " + (dir / seed_file).string();
    return out;
  }
  q.original = Describe(original, seed_file);
  ShrinkResult shrunk = Shrink(original, p.name, bugs, scratch.string(), max_runs);
  const Scenario& minimal = shrunk.minimal;
  const std::string minimal_file = "minimal-" + p.name + ".yaml";
  const fs::path minimal_path = dir / minimal_file;
  const fs::path run_root = dir / ("minimal-" + p.name);
  q.minimal = Describe(minimal, minimal_file);
  q.shrink_runs = shrunk.runs;
  q.shrink_log = shrunk.log;
  q.reproduce = "ithappens run " + minimal_path.string() + " --out " + run_root.string() + bug_args;
  q.minimal_yaml = "# The smallest scenario `ithappens explore` found that still violates " + p.name +
                   ":\n# shrunk from seed " + std::to_string(p.first_seed) + " of " + base_file +
                   " (" + reports::SideLine(q.original) + ")\n# in " + std::to_string(shrunk.runs) +
                   " runs to " + reports::SideLine(q.minimal) + ".\n# Reproduce (exit 1, " + p.name +
                   " violated): " + q.reproduce + "\n" + ScenarioToYaml(minimal);
  if (!WriteFile(minimal_path, q.minimal_yaml)) {
    out.error = "cannot write " + minimal_path.string();
    return out;
  }
  // The minimal scenario run as `ithappens run` runs it: its history and reports.
  const SimRun run = RunSimAndReport(minimal, minimal_path.string(), run_root.string(),
                                     minimal.seed, 1.0, bugs, bug_args, false, false);
  if (run.exit == kExitHarness) {
    out.error = "the minimal scenario's run failed";
    return out;
  }
  bool reproduced = false;
  for (const CheckResult& r : run.results)
    reproduced |= r.checker == p.name && r.valid == Validity::kInvalid;
  if (!reproduced) {
    out.error = "the minimal scenario " + minimal_path.string() + " does not violate " + p.name +
                " when run again: the simulator is not deterministic (the harness is at fault)";
    return out;
  }
  q.minimal_report = fs::relative(run.dir / "report.html", dir).string();
  try {
    std::ifstream in(run.dir / "report.json");
    const reports::Report r = reports::FromJson(nlohmann::json::parse(in));
    for (const auto& prop : r.properties)
      if (prop.name == p.name) q.counterexamples = prop.counterexamples;
  } catch (const std::exception& e) {
    out.error = "cannot read back " + (run.dir / "report.json").string() + ": " + e.what();
    return out;
  }
  // Is it the switch? The same minimal scenario on the correct engine.
  if (bugs.any()) {
    const SeedOutcome clean =
        RunAndCheck(minimal, engine::BugSwitches{}, (scratch / ("clean-" + p.name + ".jsonl")).string());
    fs::remove(scratch / ("clean-" + p.name + ".jsonl"));
    q.minimal_without_bugs = std::string(ToString(clean.verdict));
  }
  out.ok = true;
  return out;
}

void PrintExplore(const reports::ExploreReport& r, const fs::path& dir) {
  std::cout << "explore " << r.scenario << ": " << r.verdict << " (" << r.counts.dump() << ")\n";
  for (const auto& p : r.properties) {
    if (p.seeds_violated == 0) continue;
    std::cout << "  FAILED  " << p.name << ": " << p.seeds_violated << " seed(s), first seed "
              << p.first_seed << "\n";
    if (!p.minimal.file.empty()) {
      std::cout << "          minimal: " << (dir / p.minimal.file).string() << " ("
                << reports::SideLine(p.minimal) << ", from " << reports::SideLine(p.original) << " in "
                << p.shrink_runs << " runs";
      if (!p.minimal_without_bugs.empty())
        std::cout << "; without the bug switches: " << p.minimal_without_bugs;
      std::cout << ")\n          reproduce: " << p.reproduce << "\n";
    }
  }
  std::cout << "report: " << (dir / "report.html").string() << "\n";
}

}  // namespace

int ExploreCommand(const ExploreArgs& a) {
  double load = 1;
  if (std::string why; !ParseLoad(a.load_text, &load, &why)) {
    std::cerr << "ithappens: --load: " << why << "\n";
    return kExitUsage;
  }
  double budget_s = 0;
  if (!a.time_text.empty()) {
    if (a.seeds) {
      std::cerr << "ithappens: --seeds and --time: give one (a number of seeds or a time budget)\n";
      return kExitUsage;
    }
    if (std::string why; !ParseDuration(a.time_text, &budget_s, &why)) {
      std::cerr << "ithappens: --time: " << why << "\n";
      return kExitUsage;
    }
  }
  int shard = 0, shards = 1;
  if (!a.shard_text.empty()) {
    if (std::string why; !ParseShard(a.shard_text, &shard, &shards, &why)) {
      std::cerr << "ithappens: --shard: " << why << "\n";
      return kExitUsage;
    }
  }
  engine::BugSwitches bugs;
  std::string bug_args;
  for (const auto& b : a.bug_names) {
    if (auto st = engine::EnableBugSwitch(b, &bugs); !st.ok()) {
      std::cerr << "ithappens: " << st.message() << "\n";
      return kExitUsage;
    }
    bug_args += " --engine-bug " + b;
  }
  auto loaded = LoadScenario(a.file);
  if (!loaded.ok()) {
    std::cerr << "ithappens: " << loaded.status().message() << "\n";
    return kExitUsage;
  }
  if (auto st = CheckRunSize(*loaded, load); !st.ok()) {
    std::cerr << "ithappens: " << st.message() << "\n";
    return kExitUsage;
  }
  const Scenario base = BakeLoad(*loaded, load);
  const uint64_t base_seed = a.seed.value_or(base.seed);
  const int64_t seeds = a.seeds.value_or(100);
  const int jobs = a.jobs > 0 ? a.jobs : std::max(1u, std::thread::hardware_concurrency());
  const fs::path dir = fs::path(a.out) / base.name;
  const fs::path scratch = dir / "explore-scratch";
  if (!MakeDirectory(scratch)) return kExitHarness;
  // What explore writes is replaced, never mixed with an earlier exploration's.
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name.rfind("minimal-", 0) == 0 || name.rfind("seed-", 0) == 0) fs::remove_all(f.path());
  }

  std::string command = "ithappens explore " + a.file +
                        (budget_s > 0 ? " --time " + a.time_text : " --seeds " + std::to_string(seeds)) +
                        " --seed " + std::to_string(base_seed) + " --load " + LoadText(load) +
                        (shards > 1 ? " --shard " + a.shard_text : "") +
                        (a.keep_going ? " --keep-going" : "") + " --out " + a.out + bug_args;
  std::cout << "explore " << base.name << ": "
            << (budget_s > 0 ? "seeds for " + a.time_text : std::to_string(seeds) + " seeds")
            << " from seed " << base_seed
            << (shards > 1 ? ", shard " + a.shard_text : std::string()) << ", " << jobs
            << " jobs, faults from "
            << (base.explore.given ? "its explore section" : "its own faults, shuffled")
            << ", engine bugs " << bugs.ToString() << "\n";
  std::cout.flush();

  ProgressPrinter printer("explore " + base.name);
  ExploreOptions o;
  o.scenario = &base;
  o.base_seed = base_seed;
  o.seeds = seeds;
  o.time_budget_s = budget_s;
  o.jobs = jobs;
  o.shard = shard;
  o.shards = shards;
  o.keep_going = a.keep_going;
  o.bugs = bugs;
  o.scratch_dir = scratch.string();
  o.progress = [&](const ExploreProgress& p) {
    char head[128];
    std::snprintf(head, sizeof head, "%lld%s seeds, %.1f seeds/s", static_cast<long long>(p.done),
                  p.planned >= 0 ? ("/" + std::to_string(p.planned)).c_str() : "",
                  p.elapsed_s > 0 ? static_cast<double>(p.done) / p.elapsed_s : 0.0);
    std::string line = head;
    if (p.violations.empty()) line += ", no violation";
    for (const auto& [name, n] : p.violations) line += ", " + name + " " + std::to_string(n);
    printer.Line(line, false);
  };
  const ExploreRun run = Explore(o);
  printer.Line("", true);

  reports::ExploreReport r;
  r.scenario = base.name;
  r.file = a.file;
  r.scenario_digest = [&] {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(engine::StableHash(ScenarioToYaml(base), 0)));
    return std::string(buf);
  }();
  r.engine_bugs = bugs.ToString();
  r.command = command;
  r.base_seed = base_seed;
  r.seeds_planned = budget_s > 0 ? -1 : seeds;
  r.time_budget_s = budget_s;
  r.load = load;
  r.wall_s = run.wall_s;
  r.jobs = jobs;
  r.shard = shard;
  r.shards = shards;
  r.keep_going = a.keep_going;
  r.stopped_early = run.stopped_early;
  for (const auto& c : StandardCheckers())
    r.properties.push_back(reports::ExploreProperty::Named(c->name()));
  for (const SeedOutcome& s : run.seeds) {
    r.seeds.push_back(reports::ExploreSeed{s.index, s.seed, std::string(ToString(s.verdict)),
                                           s.violated, s.tasks, s.events, s.faults, s.error});
  }
  Tally(&r);
  const double per_min = run.wall_s > 0 ? 60.0 * static_cast<double>(run.seeds.size()) / run.wall_s : 0;
  std::printf("explored %zu seeds in %.1f s (%.0f seeds/min with %d jobs)\n", run.seeds.size(),
              run.wall_s, per_min, jobs);
  std::fflush(stdout);

  // Shrink the first violation of each property, the properties in parallel.
  std::vector<size_t> to_shrink;
  for (size_t k = 0; k < r.properties.size(); ++k)
    if (r.properties[k].first_index >= 0 && a.shrink_runs >= 0) to_shrink.push_back(k);
  std::vector<Shrunk> done(to_shrink.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1)) < to_shrink.size();) {
      done[k] = ShrinkOne(base, a.file, dir, scratch, r.properties[to_shrink[k]], bugs, bug_args,
                          a.shrink_runs);
    }
  };
  if (!to_shrink.empty()) {
    std::cout << "shrinking the first violation of " << to_shrink.size() << " propert"
              << (to_shrink.size() == 1 ? "y" : "ies") << " (at most " << a.shrink_runs
              << " runs each)\n";
    std::cout.flush();
  }
  std::vector<std::thread> threads;
  for (int j = 1; j < std::min<int>(jobs, static_cast<int>(to_shrink.size())); ++j)
    threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  int harness_failed = 0;
  for (size_t k = 0; k < to_shrink.size(); ++k) {
    if (!done[k].ok) {
      std::cerr << "ithappens: shrinking " << r.properties[to_shrink[k]].name
                << " failed: " << done[k].error << "\n";
      ++harness_failed;
      continue;
    }
    r.properties[to_shrink[k]] = std::move(done[k].property);
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  if (!reports::WriteExplore(r, dir.string())) {
    std::cerr << "ithappens: cannot write the reports into " << dir.string() << "\n";
    return kExitHarness;
  }
  PrintExplore(r, dir);
  if (harness_failed > 0) return kExitHarness;
  return r.verdict == "valid" ? kExitValid : r.verdict == "invalid" ? kExitInvalid : kExitHarness;
}

int MergeCommand(const std::vector<std::string>& dirs, const std::string& out) {
  std::vector<reports::ExploreReport> shards;
  std::vector<fs::path> shard_dirs;
  for (const std::string& d : dirs) {
    fs::path file = fs::path(d) / "explore.json";
    if (!fs::exists(file)) {
      // OUT given instead of OUT/<scenario>: its one exploration.
      std::vector<fs::path> found;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(d, ec))
        if (fs::exists(e.path() / "explore.json")) found.push_back(e.path() / "explore.json");
      if (found.size() != 1) {
        std::cerr << "ithappens: " << d << ": no explore.json in it"
                  << (found.empty() ? "" : " (and more than one below it: name one)") << "\n";
        return kExitUsage;
      }
      file = found[0];
    }
    try {
      std::ifstream in(file);
      shards.push_back(reports::ExploreFromJson(nlohmann::json::parse(in)));
      shard_dirs.push_back(file.parent_path());
    } catch (const std::exception& e) {
      std::cerr << "ithappens: " << file.string() << " is not an ithappens explore.json: " << e.what()
                << "\n";
      return kExitUsage;
    }
  }
  auto merged = MergeExplore(shards);
  if (!merged.ok()) {
    std::cerr << "ithappens: merge: " << merged.status().message() << "\n";
    return kExitUsage;
  }
  reports::ExploreReport& m = *merged;
  const fs::path dir = fs::path(out) / m.scenario;
  if (!MakeDirectory(dir)) return kExitHarness;
  // Each property's files come from the shard that met its first violation.
  for (auto& p : m.properties) {
    if (p.minimal.file.empty()) continue;
    for (size_t k = 0; k < shards.size(); ++k) {
      bool from = false;
      for (const auto& q : shards[k].properties)
        from |= q.name == p.name && q.first_index == p.first_index;
      if (!from) continue;
      const fs::path src = shard_dirs[k];
      std::error_code ec;
      if (!fs::equivalent(src, dir, ec)) {
        const auto opts = fs::copy_options::recursive | fs::copy_options::overwrite_existing;
        for (const std::string& name :
             {p.minimal.file, p.original.file, "minimal-" + p.name}) {
          if (fs::exists(src / name)) fs::copy(src / name, dir / name, opts, ec);
          if (ec) {
            std::cerr << "ithappens: cannot copy " << (src / name).string() << " into "
                      << dir.string() << ": " << ec.message() << "\n";
            return kExitHarness;
          }
        }
        // The paths in the reproduce line and the file's header: the merge's own.
        for (std::string* text : {&p.reproduce, &p.minimal_yaml}) {
          const std::string from_dir = src.string() + "/", to_dir = dir.string() + "/";
          for (size_t at = 0; (at = text->find(from_dir, at)) != std::string::npos;
               at += to_dir.size())
            text->replace(at, from_dir.size(), to_dir);
        }
        if (!WriteFile(dir / p.minimal.file, p.minimal_yaml)) {
          std::cerr << "ithappens: cannot write " << (dir / p.minimal.file).string() << "\n";
          return kExitHarness;
        }
      }
      break;
    }
  }
  if (!reports::WriteExplore(m, dir.string())) {
    std::cerr << "ithappens: cannot write the reports into " << dir.string() << "\n";
    return kExitHarness;
  }
  PrintExplore(m, dir);
  return m.verdict == "valid" ? kExitValid : m.verdict == "invalid" ? kExitInvalid : kExitHarness;
}

}  // namespace ithappens::harness
