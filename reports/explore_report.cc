// `ithappens explore`'s outputs: explore.json (the model), junit.xml (a testcase per
// property, the minimal reproduction in the failure), summary.md and report.html (the
// original and the minimal schedule side by side, the minimal run's counterexamples).
#include <fstream>
#include <sstream>

#include "reports/internal.h"
#include "reports/report.h"

namespace ithappens::reports {
namespace {

using internal::Escape;
using internal::Fmt;
using nlohmann::json;

json SideToJson(const ScheduleSide& s) {
  return {{"file", s.file},         {"faults", s.faults},   {"workload", s.workload},
          {"workers", s.workers},   {"clients", s.clients}, {"capacity", s.capacity},
          {"tasks", s.tasks}};
}

ScheduleSide SideFromJson(const json& j) {
  ScheduleSide s;
  s.file = j.value("file", "");
  s.faults = j.value("faults", std::vector<std::string>{});
  s.workload = j.value("workload", std::vector<std::string>{});
  s.workers = j.value("workers", 0);
  s.clients = j.value("clients", 0);
  s.capacity = j.value("capacity", 0);
  s.tasks = j.value("tasks", int64_t{0});
  return s;
}

std::string SeedsText(const ExploreReport& r) {
  std::ostringstream o;
  o << r.counts.value("seeds", int64_t{0}) << " seeds";
  if (r.seeds_planned >= 0) o << " of " << r.seeds_planned;
  if (r.time_budget_s > 0) o << " (time budget " << Fmt(r.time_budget_s) << " s)";
  o << " from seed " << r.base_seed;
  if (r.shards > 1 && r.merged_shards.empty()) o << ", shard " << r.shard << "/" << r.shards;
  if (!r.merged_shards.empty()) o << ", " << r.merged_shards.size() << " shards merged";
  if (r.stopped_early) o << ", stopped at the first violation";
  return o.str();
}

}  // namespace

std::string SideLine(const ScheduleSide& s) {
  std::ostringstream o;
  o << s.faults.size() << " fault" << (s.faults.size() == 1 ? "" : "s") << ", "
    << s.workload.size() << " workload line" << (s.workload.size() == 1 ? "" : "s") << " ("
    << s.tasks << " task" << (s.tasks == 1 ? "" : "s") << "), " << s.workers << " worker"
    << (s.workers == 1 ? "" : "s") << " x " << s.capacity << ", " << s.clients << " client"
    << (s.clients == 1 ? "" : "s");
  return o.str();
}

json ToJson(const ExploreReport& r) {
  json props = json::array();
  for (const auto& p : r.properties) {
    json ces = json::array();
    for (const auto& c : p.counterexamples) ces.push_back(internal::CounterexampleToJson(c));
    props.push_back({{"property", p.name},
                     {"seeds_violated", p.seeds_violated},
                     {"first_index", p.first_index},
                     {"first_seed", p.first_seed},
                     {"original", SideToJson(p.original)},
                     {"minimal", SideToJson(p.minimal)},
                     {"shrink_runs", p.shrink_runs},
                     {"shrink_log", p.shrink_log},
                     {"minimal_yaml", p.minimal_yaml},
                     {"reproduce", p.reproduce},
                     {"minimal_report", p.minimal_report},
                     {"minimal_without_bugs", p.minimal_without_bugs},
                     {"counterexamples", ces}});
  }
  json seeds = json::array();
  for (const auto& s : r.seeds) {
    json row = {{"index", s.index},   {"seed", s.seed},     {"verdict", s.verdict},
                {"violated", s.violated}, {"tasks", s.tasks}, {"events", s.events},
                {"faults", s.faults}};
    if (!s.error.empty()) row["error"] = s.error;
    seeds.push_back(std::move(row));
  }
  return {{"kind", "explore"},
          {"scenario", r.scenario},
          {"file", r.file},
          {"scenario_digest", r.scenario_digest},
          {"engine_bugs", r.engine_bugs},
          {"verdict", r.verdict},
          {"command", r.command},
          {"base_seed", r.base_seed},
          {"seeds_planned", r.seeds_planned},
          {"time_budget_s", r.time_budget_s},
          {"load", r.load},
          {"wall_s", r.wall_s},
          {"jobs", r.jobs},
          {"shard", r.shard},
          {"shards", r.shards},
          {"keep_going", r.keep_going},
          {"stopped_early", r.stopped_early},
          {"merged_shards", r.merged_shards},
          {"counts", r.counts},
          {"properties", props},
          {"seeds", seeds}};
}

ExploreReport ExploreFromJson(const json& j) {
  if (j.value("kind", "") != "explore")
    throw json::other_error::create(501, "not an explore.json (kind is not \"explore\")", &j);
  ExploreReport r;
  r.scenario = j.at("scenario").get<std::string>();
  r.file = j.value("file", "");
  r.scenario_digest = j.value("scenario_digest", "");
  r.engine_bugs = j.value("engine_bugs", "none");
  r.verdict = j.at("verdict").get<std::string>();
  r.command = j.value("command", "");
  r.base_seed = j.at("base_seed").get<uint64_t>();
  r.seeds_planned = j.at("seeds_planned").get<int64_t>();
  r.time_budget_s = j.value("time_budget_s", 0.0);
  r.load = j.value("load", 1.0);
  r.wall_s = j.value("wall_s", 0.0);
  r.jobs = j.value("jobs", 1);
  r.shard = j.at("shard").get<int>();
  r.shards = j.at("shards").get<int>();
  r.keep_going = j.at("keep_going").get<bool>();
  r.stopped_early = j.value("stopped_early", false);
  r.merged_shards = j.value("merged_shards", std::vector<int>{});
  r.counts = j.value("counts", json::object());
  for (const auto& p : j.at("properties")) {
    ExploreProperty q;
    q.name = p.at("property").get<std::string>();
    q.seeds_violated = p.at("seeds_violated").get<int64_t>();
    q.first_index = p.at("first_index").get<int64_t>();
    q.first_seed = p.value("first_seed", uint64_t{0});
    q.original = SideFromJson(p.value("original", json::object()));
    q.minimal = SideFromJson(p.value("minimal", json::object()));
    q.shrink_runs = p.value("shrink_runs", 0);
    q.shrink_log = p.value("shrink_log", std::vector<std::string>{});
    q.minimal_yaml = p.value("minimal_yaml", "");
    q.reproduce = p.value("reproduce", "");
    q.minimal_report = p.value("minimal_report", "");
    q.minimal_without_bugs = p.value("minimal_without_bugs", "");
    for (const auto& c : p.value("counterexamples", json::array()))
      q.counterexamples.push_back(internal::CounterexampleFromJson(c));
    r.properties.push_back(std::move(q));
  }
  for (const auto& s : j.at("seeds")) {
    r.seeds.push_back(ExploreSeed{s.at("index").get<int64_t>(), s.at("seed").get<uint64_t>(),
                                  s.at("verdict").get<std::string>(),
                                  s.value("violated", std::vector<std::string>{}),
                                  s.value("tasks", int64_t{0}), s.value("events", int64_t{0}),
                                  s.value("faults", int64_t{0}), s.value("error", "")});
  }
  return r;
}

std::string RenderExploreJunit(const ExploreReport& r) {
  std::ostringstream out;
  int failures = 0;
  for (const auto& p : r.properties) failures += p.seeds_violated > 0;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"ithappens.explore."
      << Escape(r.scenario) << "\" tests=\"" << r.properties.size() << "\" failures=\"" << failures
      << "\">\n";
  for (const auto& p : r.properties) {
    out << "  <testcase classname=\"explore." << Escape(r.scenario) << "\" name=\""
        << Escape(p.name) << "\">";
    if (p.seeds_violated > 0) {
      std::ostringstream msg;
      msg << "violated by " << p.seeds_violated << " of " << r.counts.value("seeds", int64_t{0})
          << " seeds, first seed " << p.first_seed;
      if (!p.minimal.file.empty())
        msg << "; minimal: " << SideLine(p.minimal) << "; reproduce: " << p.reproduce;
      out << "<failure message=\"" << Escape(msg.str()) << "\">";
      if (!p.counterexamples.empty())
        out << Escape("counterexample: task " + p.counterexamples[0].task + ": " +
                      p.counterexamples[0].explanation + "\n");
      out << Escape(p.minimal_yaml) << "</failure>";
    }
    out << "</testcase>\n";
  }
  out << "</testsuite>\n";
  return out.str();
}

std::string RenderExploreMarkdown(const ExploreReport& r) {
  std::ostringstream md;
  md << "# explore " << r.scenario << ": " << r.verdict << "\n\n"
     << SeedsText(r) << "; load " << r.load << "x (baked into the counts), engine bugs "
     << r.engine_bugs << ", counts `" << r.counts.dump() << "`\n\n"
     << "| property | seeds violating | first seed | minimal scenario | reproduce |\n"
     << "|---|---|---|---|---|\n";
  for (const auto& p : r.properties) {
    md << "| " << p.name << " | " << p.seeds_violated << " | "
       << (p.first_index >= 0 ? std::to_string(p.first_seed) : "") << " | "
       << (p.minimal.file.empty() ? "" : p.minimal.file + " (" + SideLine(p.minimal) + ")")
       << " | " << (p.reproduce.empty() ? "" : "`" + p.reproduce + "`") << " |\n";
  }
  for (const auto& p : r.properties) {
    if (p.minimal.file.empty()) continue;
    md << "\n## " << p.name << "\n\nOriginal (seed " << p.first_seed << ", " << p.original.file
       << "): " << SideLine(p.original) << "\n\nMinimal (" << p.minimal.file << ", "
       << p.shrink_runs << " shrink runs): " << SideLine(p.minimal) << "\n";
    for (const auto& f : p.minimal.faults) md << "- " << f << "\n";
    if (!p.minimal_without_bugs.empty())
      md << "\nThe minimal scenario without the bug switches: " << p.minimal_without_bugs << "\n";
    for (const auto& c : p.counterexamples)
      md << "\n- task `" << c.task << "`: " << c.explanation << "\n";
  }
  md << "\nCommand: `" << r.command << "`\n";
  return md.str();
}

std::string RenderExploreHtml(const ExploreReport& r) {
  std::ostringstream h;
  h << internal::PageHead("explore " + r.scenario) << "<h1>explore " << Escape(r.scenario)
    << ": <span class=\"" << Escape(r.verdict) << "\">" << Escape(r.verdict)
    << "</span></h1><p>" << Escape(SeedsText(r)) << "; load " << r.load
    << "x (baked into the counts), engine bugs " << Escape(r.engine_bugs) << "<br>counts <code>"
    << Escape(r.counts.dump()) << "</code><br>command <code>" << Escape(r.command)
    << "</code></p><h2>Properties</h2><table><tr><th>property</th><th>seeds violating</th>"
    << "<th>first seed</th><th>minimal</th></tr>";
  for (const auto& p : r.properties) {
    h << "<tr><td>" << Escape(p.name) << "</td><td class=\""
      << (p.seeds_violated > 0 ? "invalid" : "valid") << "\">" << p.seeds_violated
      << "</td><td>" << (p.first_index >= 0 ? std::to_string(p.first_seed) : "") << "</td><td>"
      << (p.minimal.file.empty() ? ""
                                 : "<a href=\"#" + Escape(p.name) + "\">" +
                                       Escape(SideLine(p.minimal)) + "</a>")
      << "</td></tr>";
  }
  h << "</table>";
  auto side = [&](const ScheduleSide& s) {
    std::ostringstream c;
    c << "<td><code>" << Escape(s.file) << "</code><br>" << Escape(SideLine(s)) << "<ul>";
    for (const auto& w : s.workload) c << "<li>" << Escape(w) << "</li>";
    c << "</ul><b>faults</b><ul>";
    for (const auto& f : s.faults) c << "<li>" << Escape(f) << "</li>";
    if (s.faults.empty()) c << "<li>none</li>";
    c << "</ul></td>";
    return c.str();
  };
  for (const auto& p : r.properties) {
    if (p.minimal.file.empty()) continue;
    h << "<h2 id=\"" << Escape(p.name) << "\">" << Escape(p.name) << "</h2><p>Violated by "
      << p.seeds_violated << " seeds; the first, seed " << p.first_seed << ", shrunk in "
      << p.shrink_runs << " runs. Reproduce: <code>" << Escape(p.reproduce) << "</code>";
    if (!p.minimal_without_bugs.empty())
      h << "<br>The minimal scenario without the bug switches: <span class=\""
        << Escape(p.minimal_without_bugs) << "\">" << Escape(p.minimal_without_bugs) << "</span>";
    if (!p.minimal_report.empty())
      h << "<br>The minimal run's report: <a href=\"" << Escape(p.minimal_report) << "\">"
        << Escape(p.minimal_report) << "</a>";
    h << "</p><table><tr><th>original</th><th>minimal</th></tr><tr>" << side(p.original)
      << side(p.minimal) << "</tr></table>";
    if (!p.shrink_log.empty()) {
      h << "<details><summary>shrinking steps kept</summary><ol>";
      for (const auto& s : p.shrink_log) h << "<li>" << Escape(s) << "</li>";
      h << "</ol></details>";
    }
    h << "<h3>Counterexamples of the minimal run</h3><ul>";
    for (const auto& c : p.counterexamples) h << internal::CounterexampleHtml(p.name, c);
    h << "</ul><details><summary>" << Escape(p.minimal.file) << "</summary><pre>"
      << Escape(p.minimal_yaml) << "</pre></details>";
  }
  h << "<h2>Seeds</h2><p>Every seed that was not valid (of "
    << r.counts.value("seeds", int64_t{0}) << ").</p><table><tr><th>index</th><th>seed</th>"
    << "<th>verdict</th><th>violated</th><th>faults</th><th>tasks</th></tr>";
  for (const auto& s : r.seeds) {
    if (s.verdict == "valid") continue;
    h << "<tr><td>" << s.index << "</td><td>" << s.seed << "</td><td class=\""
      << Escape(s.verdict) << "\">" << Escape(s.verdict) << "</td><td>"
      << Escape(internal::Join(s.violated)) << (s.error.empty() ? "" : " " + Escape(s.error))
      << "</td><td>" << s.faults << "</td><td>" << s.tasks << "</td></tr>";
  }
  h << "</table></body></html>\n";
  return h.str();
}

bool WriteExplore(const ExploreReport& r, const std::string& dir) {
  return internal::WriteFiles(dir, {{"explore.json", ToJson(r).dump(2) + "\n"},
                                    {"junit.xml", RenderExploreJunit(r)},
                                    {"summary.md", RenderExploreMarkdown(r)},
                                    {"report.html", RenderExploreHtml(r)}});
}

}  // namespace ithappens::reports
