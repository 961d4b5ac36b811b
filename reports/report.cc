#include "reports/report.h"

#include "reports/internal.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace ithappens::reports {
using nlohmann::json;

namespace internal {

std::string Escape(const std::string& s) {  // for HTML and XML text and attributes
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

json CounterexampleToJson(const Counterexample& c) {
  json rows = json::array();
  for (const auto& row : c.timeline) {
    rows.push_back({{"i", row.i},
                    {"t_s", row.t_s},
                    {"proc", row.proc},
                    {"type", row.type},
                    {"f", row.f},
                    {"detail", row.detail}});
  }
  return {{"task", c.task},
          {"events", c.events},
          {"explanation", c.explanation},
          {"t_s", c.t_s},
          {"faults_open", c.faults_open},
          {"timeline", rows}};
}

Counterexample CounterexampleFromJson(const json& c) {
  Counterexample ce{c.at("task").get<std::string>(),
                    c.at("events").get<std::vector<int64_t>>(),
                    c.at("explanation").get<std::string>(),
                    c.value("t_s", -1.0),
                    c.value("faults_open", std::vector<std::string>{}),
                    {}};
  for (const auto& row : c.value("timeline", json::array())) {
    ce.timeline.push_back(TimelineRow{row.at("i").get<int64_t>(), row.at("t_s").get<double>(),
                                      row.value("proc", ""), row.value("type", ""),
                                      row.value("f", ""), row.value("detail", "")});
  }
  return ce;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string CounterexampleHtml(const std::string& property, const Counterexample& c) {
  std::ostringstream h;
  h << "<li><b>" << Escape(property) << "</b> task <code>" << Escape(c.task)
    << "</code>: " << Escape(c.explanation);
  if (c.t_s >= 0) h << " &mdash; at " << Fmt(c.t_s) << " s";
  h << "; faults open then: "
    << (c.faults_open.empty() ? std::string("none") : Escape(Join(c.faults_open)));
  h << " (history.jsonl lines";
  for (int64_t i : c.events) h << " " << i + 1;
  h << ")";
  if (!c.timeline.empty()) {
    h << "<details><summary>the task's events in order</summary><table><tr><th>line</th>"
         "<th>s</th><th>process</th><th>type</th><th>call</th><th>detail</th></tr>";
    for (const auto& row : c.timeline) {
      const bool named = std::find(c.events.begin(), c.events.end(), row.i) != c.events.end();
      h << "<tr" << (named ? " style=\"background:#fde0e0\"" : "") << "><td>" << row.i + 1
        << "</td><td>" << Fmt(row.t_s) << "</td><td>" << Escape(row.proc) << "</td><td>"
        << Escape(row.type) << "</td><td>" << Escape(row.f) << "</td><td><code>"
        << Escape(row.detail) << "</code></td></tr>";
    }
    h << "</table></details>";
  }
  h << "</li>";
  return h.str();
}

std::string PageHead(const std::string& title) {
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>ithappens: " +
         Escape(title) +
         "</title><style>body{font-family:sans-serif;margin:2em;max-width:1000px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:"
         "left;vertical-align:top}"
         ".valid{color:#2ca02c}.invalid{color:#d62728}.unknown{color:#ff7f0e}code{font-size:90%}"
         "</style></head><body>";
}

}  // namespace internal

namespace {
using internal::Escape;
using internal::Fmt;
using internal::Join;
}  // namespace

namespace {

// The attribution matrix as a Markdown or HTML table.
std::string AttributionTable(const Report& r, bool html) {
  std::set<std::string> columns;
  for (const auto& [truth, row] : r.attribution)
    for (const auto& [outcome, n] : row) columns.insert(outcome);
  std::ostringstream t;
  if (html) {
    t << "<table><tr><th>planned \\ ended</th>";
    for (const auto& c : columns) t << "<th>" << Escape(c) << "</th>";
    t << "</tr>";
  } else {
    t << "| planned \\ ended |";
    for (const auto& c : columns) t << " " << c << " |";
    t << "\n|---|";
    for (size_t k = 0; k < columns.size(); ++k) t << "---|";
    t << "\n";
  }
  for (const auto& [truth, row] : r.attribution) {
    t << (html ? "<tr><th>" + Escape(truth) + "</th>" : "| " + truth + " |");
    for (const auto& c : columns) {
      auto it = row.find(c);
      const int64_t n = it == row.end() ? 0 : it->second;
      t << (html ? "<td>" : " ") << n << (html ? "</td>" : " |");
    }
    t << (html ? "</tr>" : "\n");
  }
  if (html) t << "</table>";
  return t.str();
}
}  // namespace

json ToJson(const Report& r) {
  json props = json::array();
  for (const auto& p : r.properties) {
    json ces = json::array();
    for (const auto& c : p.counterexamples) ces.push_back(internal::CounterexampleToJson(c));
    props.push_back({{"checker", p.name},
                     {"valid", p.verdict},
                     {"counts", p.counts},
                     {"counterexamples", ces},
                     {"error", p.error}});
  }
  json roots = json::array();
  for (const auto& c : r.root_causes) {
    roots.push_back({{"task", c.task}, {"blocked", c.blocked}, {"examples", c.examples}});
  }
  json faults = json::array();
  for (const auto& f : r.faults) {
    faults.push_back({{"kind", f.kind},
                      {"target", f.target},
                      {"start_s", f.start_s},
                      {"end_s", f.end_s},
                      {"tasks_in_flight", f.tasks_in_flight},
                      {"requests", f.requests}});
  }
  json ops = json::array();
  for (const auto& o : r.ops) {
    ops.push_back({{"op", o.op},
                   {"calls", o.calls},
                   {"per_s", o.per_s},
                   {"p50_ms", o.p50_ms},
                   {"p99_ms", o.p99_ms},
                   {"per_s_t", o.per_s_t},
                   {"p50_ms_t", o.p50_ms_t},
                   {"p99_ms_t", o.p99_ms_t}});
  }
  json throughput = {{"time_scale", r.time_scale}, {"t_s", r.ops_t_s}, {"ops", ops}};
  json rss = json::array();
  for (const auto& p : r.memory.procs) {
    rss.push_back({{"proc", p.proc},
                   {"mb", p.mb},
                   {"peak_mb", p.peak_mb},
                   {"slope_mb_per_min", p.slope_mb_per_min},
                   {"mb_per_1000_tasks", p.mb_per_1000_tasks},
                   {"growing", p.growing},
                   {"oom_kills", p.oom_kills}});
  }
  json ooms = json::array();
  for (size_t k = 0; k < r.memory.oom_kills.size(); ++k) {
    ooms.push_back({{"t_s", r.memory.oom_kills[k].first},
                    {"proc", r.memory.oom_kills[k].second},
                    {"back_to_work_s", k < r.memory.back_to_work_s.size()
                                           ? r.memory.back_to_work_s[k]
                                           : -1.0}});
  }
  json memory = {{"mechanism", r.memory.mechanism},
                 {"worker_limit_mb", r.memory.worker_limit_mb},
                 {"sink_limit_mb", r.memory.sink_limit_mb},
                 {"t_s", r.memory.t_s},
                 {"rss", rss},
                 {"oom_kills", ooms}};
  return {{"scenario", r.scenario},
          {"file", r.file},
          {"mode", r.mode},
          {"throughput", throughput},
          {"memory", memory},
          {"seed", r.seed},
          {"load", r.load},
          {"engine_bugs", r.engine_bugs},
          {"verdict", r.verdict},
          {"counts", r.counts},
          {"properties", props},
          {"root_causes", roots},
          {"faults", faults},
          {"states", {{"t_s", r.states.t_s}, {"tasks", r.states.tasks}}},
          {"attribution", r.attribution},
          {"history_sha", r.history_sha},
          {"reproduce", r.reproduce}};
}

Report FromJson(const json& j) {
  Report r;
  r.scenario = j.at("scenario").get<std::string>();
  r.file = j.value("file", "");
  r.mode = j.value("mode", "sim");
  r.seed = j.at("seed").get<uint64_t>();
  r.load = j.at("load").get<double>();
  r.engine_bugs = j.value("engine_bugs", "none");
  r.verdict = j.at("verdict").get<std::string>();
  r.counts = j.value("counts", json::object());
  for (const auto& p : j.at("properties")) {
    Property prop{p.at("checker").get<std::string>(),
                  p.at("valid").get<std::string>(),
                  p.value("counts", json::object()),
                  {},
                  p.value("error", "")};
    for (const auto& c : p.value("counterexamples", json::array()))
      prop.counterexamples.push_back(internal::CounterexampleFromJson(c));
    r.properties.push_back(std::move(prop));
  }
  for (const auto& c : j.value("root_causes", json::array())) {
    r.root_causes.push_back(RootCause{c.at("task").get<std::string>(),
                                      c.at("blocked").get<int64_t>(),
                                      c.value("examples", std::vector<std::string>{})});
  }
  for (const auto& f : j.value("faults", json::array())) {
    r.faults.push_back(FaultWindow{f.at("kind").get<std::string>(), f.value("target", ""),
                                   f.at("start_s").get<double>(), f.at("end_s").get<double>(),
                                   f.value("tasks_in_flight", int64_t{-1}),
                                   f.value("requests", int64_t{-1})});
  }
  r.attribution = j.value("attribution", decltype(r.attribution){});
  if (j.contains("states")) {
    r.states.t_s = j["states"].at("t_s").get<std::vector<double>>();
    r.states.tasks = j["states"].at("tasks").get<std::map<std::string, std::vector<int64_t>>>();
  }
  if (j.contains("throughput")) {
    const json& t = j["throughput"];
    r.time_scale = t.value("time_scale", 0.0);
    r.ops_t_s = t.value("t_s", std::vector<double>{});
    for (const auto& o : t.value("ops", json::array())) {
      r.ops.push_back(OpStats{o.at("op").get<std::string>(), o.at("calls").get<int64_t>(),
                              o.at("per_s").get<double>(), o.at("p50_ms").get<double>(),
                              o.at("p99_ms").get<double>(),
                              o.value("per_s_t", std::vector<double>{}),
                              o.value("p50_ms_t", std::vector<double>{}),
                              o.value("p99_ms_t", std::vector<double>{})});
    }
  }
  if (j.contains("memory")) {
    const json& m = j["memory"];
    r.memory.mechanism = m.value("mechanism", "");
    r.memory.worker_limit_mb = m.value("worker_limit_mb", 0.0);
    r.memory.sink_limit_mb = m.value("sink_limit_mb", 0.0);
    r.memory.t_s = m.value("t_s", std::vector<double>{});
    for (const auto& p : m.value("rss", json::array())) {
      r.memory.procs.push_back(RssLine{p.at("proc").get<std::string>(),
                                       p.value("mb", std::vector<double>{}),
                                       p.value("peak_mb", 0.0), p.value("slope_mb_per_min", 0.0),
                                       p.value("mb_per_1000_tasks", 0.0),
                                       p.value("growing", false), p.value("oom_kills", 0)});
    }
    for (const auto& k : m.value("oom_kills", json::array())) {
      r.memory.oom_kills.emplace_back(k.at("t_s").get<double>(), k.at("proc").get<std::string>());
      r.memory.back_to_work_s.push_back(k.value("back_to_work_s", -1.0));
    }
  }
  r.history_sha = j.value("history_sha", "");
  r.reproduce = j.value("reproduce", "");
  return r;
}

std::string RenderJunit(const Report& r) {
  std::ostringstream out;
  int failures = 0;
  for (const auto& p : r.properties) failures += p.verdict != "valid";
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"ithappens."
      << Escape(r.scenario) << "\" tests=\"" << r.properties.size() << "\" failures=\"" << failures
      << "\">\n";
  for (const auto& p : r.properties) {
    out << "  <testcase classname=\"" << Escape(r.scenario) << "\" name=\"" << Escape(p.name)
        << "\">";
    if (p.verdict != "valid") {
      std::string msg = p.counterexamples.empty() ? p.error : p.counterexamples[0].explanation;
      out << "<failure message=\"" << Escape(msg) << "\"/>";
    }
    out << "</testcase>\n";
  }
  out << "</testsuite>\n";
  return out.str();
}

std::string RenderMarkdown(const Report& r) {
  std::ostringstream md;
  md << "# " << r.scenario << ": " << r.verdict << "\n\n";
  if (r.time_scale > 0) md << "real, time scale " << r.time_scale << "; ";
  md << "seed " << r.seed << ", load " << r.load << "x, engine bugs " << r.engine_bugs
     << ", counts `" << r.counts.dump() << "`\n\n"
     << "| property | verdict | counts |\n|---|---|---|\n";
  for (const auto& p : r.properties) {
    md << "| " << p.name << " | " << p.verdict << " | `" << p.counts.dump() << "` |\n";
  }
  if (!r.ops.empty()) {
    md << "\n| operation | calls | per wall s | p50 wall ms | p99 wall ms |\n|---|---|---|---|---|\n";
    for (const auto& o : r.ops) {
      md << "| " << o.op << " | " << o.calls << " | " << Fmt(o.per_s) << " | " << Fmt(o.p50_ms)
         << " | " << Fmt(o.p99_ms) << " |\n";
    }
  }
  if (!r.memory.procs.empty()) {
    md << "\nMemory limits: " << (r.memory.mechanism.empty() ? "none" : r.memory.mechanism)
       << " (worker " << Fmt(r.memory.worker_limit_mb) << " MiB, sink "
       << Fmt(r.memory.sink_limit_mb) << " MiB)\n\n"
       << "| process | peak MiB | slope MiB/min | MiB per 1,000 runs | OOM kills | growing |\n"
       << "|---|---|---|---|---|---|\n";
    for (const auto& p : r.memory.procs) {
      md << "| " << p.proc << " | " << Fmt(p.peak_mb) << " | " << Fmt(p.slope_mb_per_min) << " | "
         << Fmt(p.mb_per_1000_tasks) << " | " << p.oom_kills << " | "
         << (p.growing ? "**yes**" : "no") << " |\n";
    }
  }
  for (const auto& p : r.properties) {
    for (const auto& c : p.counterexamples) {
      md << "\n- **" << p.name << "** task `" << c.task << "`: " << c.explanation;
      if (c.t_s >= 0) md << " — at " << c.t_s << " s";
      if (!c.faults_open.empty()) {
        md << ", faults open then:";
        for (const auto& f : c.faults_open) md << " " << f << ";";
      }
      if (!c.events.empty()) {
        md << " (history.jsonl lines";
        for (int64_t i : c.events) md << " " << i + 1;
        md << ")";
      }
    }
  }
  if (!r.attribution.empty()) {
    md << "\n\n## Attribution (planned outcome x actual outcome)\n\n" << AttributionTable(r, false);
  }
  if (!r.root_causes.empty()) {
    md << "\n\n## Root causes\n\n| task | tasks it kept from running |\n|---|---|\n";
    for (const auto& c : r.root_causes) md << "| " << c.task << " | " << c.blocked << " |\n";
  }
  if (!r.faults.empty()) {
    md << "\n\n## Fault coverage\n\n| fault | target | window (s) | tasks in flight | requests "
          "touched | |\n|---|---|---|---|---|---|\n";
    for (const auto& f : r.faults) {
      md << "| " << f.kind << " | " << f.target << " | " << f.start_s << "–" << f.end_s << " | "
         << f.tasks_in_flight << " | " << f.requests << " | "
         << (f.TouchedNothing() ? "**touched nothing: proves nothing**" : "") << " |\n";
    }
  }
  md << "\nReproduce: `" << r.reproduce << "`\n";
  return md.str();
}

namespace {

// Lines over time (t in run seconds), with each fault window shaded and laned below, and
// marks (a time and a label: an OOM kill) as dashed vertical lines.
using Marks = std::vector<std::pair<double, std::string>>;
std::string SeriesSvg(const Report& r, const std::vector<double>& t,
                      const std::map<std::string, std::vector<double>>& series,
                      const std::string& unit, const Marks& marks = {});

// Task states over time as stacked lines, with each fault window shaded.
std::string StatesSvg(const Report& r) {
  std::map<std::string, std::vector<double>> series;
  for (const auto& [state, v] : r.states.tasks) series[state].assign(v.begin(), v.end());
  return SeriesSvg(r, r.states.t_s, series, "");
}

std::string SeriesSvg(const Report& r, const std::vector<double>& t,
                      const std::map<std::string, std::vector<double>>& series,
                      const std::string& unit, const Marks& marks) {
  // The chart, then one labelled lane per fault window below the time axis.
  const double lane = 14;
  const double w = 900, left = 50, right = 150, top = 10, chart_bottom = 30;
  const double bottom = chart_bottom + lane * static_cast<double>(r.faults.size()) + 6;
  const double h = 230 + bottom;
  if (t.size() < 2) return "<p>(no time series)</p>";
  double t_max = t.back();
  for (const auto& f : r.faults) t_max = std::max(t_max, f.end_s);
  double y_max = 1;
  for (const auto& [state, v] : series) {
    for (double n : v) y_max = std::max(y_max, n);
  }
  auto X = [&](double s) { return left + (w - left - right) * s / std::max(t_max, 1e-9); };
  auto Y = [&](double n) {
    return top + (h - top - bottom) * (1.0 - n / static_cast<double>(y_max));
  };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" font-family=\"sans-serif\" font-size=\"11\">";
  const char* fault_colors[] = {"#fde2e2", "#fff3cd", "#e2e8fd", "#e2fde8"};
  for (size_t i = 0; i < r.faults.size(); ++i) {
    const auto& f = r.faults[i];
    svg << "<rect x=\"" << Fmt(X(f.start_s)) << "\" y=\"" << top << "\" width=\""
        << Fmt(std::max(1.0, X(f.end_s) - X(f.start_s))) << "\" height=\"" << h - top - bottom
        << "\" fill=\"" << fault_colors[i % 4] << "\" opacity=\"0.5\"><title>" << Escape(f.kind)
        << (f.target.empty() ? "" : " " + Escape(f.target)) << " " << Fmt(f.start_s) << "-"
        << Fmt(f.end_s) << " s</title></rect>";
  }
  for (size_t i = 0; i < r.faults.size(); ++i) {  // the lanes
    const auto& f = r.faults[i];
    const double y = h - bottom + chart_bottom + lane * static_cast<double>(i);
    svg << "<rect x=\"" << Fmt(X(f.start_s)) << "\" y=\"" << Fmt(y) << "\" width=\""
        << Fmt(std::max(2.0, X(f.end_s) - X(f.start_s))) << "\" height=\"" << lane - 3
        << "\" fill=\"#c0504d\" opacity=\"0.6\"/><text x=\"" << Fmt(X(f.end_s) + 4) << "\" y=\""
        << Fmt(y + lane - 4) << "\" font-size=\"10\">" << Escape(f.kind)
        << (f.target.empty() ? "" : " " + Escape(f.target)) << "</text>";
  }
  svg << "<line x1=\"" << left << "\" y1=\"" << h - bottom << "\" x2=\"" << w - right << "\" y2=\""
      << h - bottom << "\" stroke=\"#333\"/><line x1=\"" << left << "\" y1=\"" << top << "\" x2=\""
      << left << "\" y2=\"" << h - bottom << "\" stroke=\"#333\"/>";
  svg << "<text x=\"" << left << "\" y=\"" << h - bottom + 14 << "\">0 s</text><text x=\""
      << w - right - 40 << "\" y=\"" << h - bottom + 14 << "\">" << Fmt(t_max)
      << " s</text><text x=\"4\" y=\"" << top + 10 << "\">" << Fmt(y_max) << unit << "</text>";
  const std::map<std::string, const char*> colors = {
      {"pending", "#999"},   {"running", "#1f77b4"},   {"completed", "#2ca02c"},
      {"failed", "#d62728"}, {"exception", "#ff7f0e"}, {"unscheduled", "#9467bd"}};
  for (const auto& [at, label] : marks) {
    svg << "<line x1=\"" << Fmt(X(at)) << "\" y1=\"" << top << "\" x2=\"" << Fmt(X(at))
        << "\" y2=\"" << h - bottom << "\" stroke=\"#d62728\" stroke-dasharray=\"4,3\"><title>"
        << Escape(label) << " at " << Fmt(at) << " s</title></line>";
  }
  const char* palette[] = {"#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd",
                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  int legend = 0;
  for (const auto& [state, v] : series) {
    auto c = colors.find(state);
    const char* color = c == colors.end() ? palette[legend % 10] : c->second;
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (size_t i = 0; i < t.size() && i < v.size(); ++i)
      svg << Fmt(X(t[i])) << "," << Fmt(Y(v[i])) << " ";
    svg << "\"/><text x=\"" << w - right + 10 << "\" y=\"" << top + 14 * (++legend) << "\" fill=\""
        << color << "\">" << Escape(state) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

// A real run's throughput and latency per operation: a table over the whole run, then
// answers per wall second and p99 latency (wall ms) over run time, with the fault windows.
std::string OpsHtml(const Report& r) {
  if (r.ops.empty()) return "";
  std::ostringstream h;
  h << "<h2>Throughput and latency (real, time scale " << Fmt(r.time_scale)
    << ")</h2><p>Calls answered (ok, refused, or unknown after a timeout), per wall second, "
       "and their latency in wall milliseconds.</p><table><tr><th>operation</th><th>calls</th>"
       "<th>per wall s</th><th>p50 ms</th><th>p99 ms</th></tr>";
  std::map<std::string, std::vector<double>> rate, p99;
  for (const auto& o : r.ops) {
    h << "<tr><td>" << Escape(o.op) << "</td><td>" << o.calls << "</td><td>" << Fmt(o.per_s)
      << "</td><td>" << Fmt(o.p50_ms) << "</td><td>" << Fmt(o.p99_ms) << "</td></tr>";
    rate[o.op] = o.per_s_t;
    p99[o.op] = o.p99_ms_t;
  }
  h << "</table><h3>Calls per wall second</h3>" << SeriesSvg(r, r.ops_t_s, rate, "/s")
    << "<h3>p99 latency, wall ms</h3>" << SeriesSvg(r, r.ops_t_s, p99, " ms");
  return h.str();
}

// A real run's memory: the limit mechanism, each process's resident set over run time
// with the fault windows and the OOM kills (dashed), and the leak detector's table.
// The OOM kills (either mode) and how long each process took to get back to work: the
// platform's recovery (a poison pill's kills, a leak's).
std::string OomHtml(const Report& r) {
  if (r.memory.oom_kills.empty()) return "";
  std::ostringstream h;
  h << "<h2>OOM kills and recovery</h2><table><tr><th>process</th><th>killed at, run s</th>"
       "<th>back to work after, run s</th></tr>";
  for (size_t k = 0; k < r.memory.oom_kills.size(); ++k) {
    const double back = k < r.memory.back_to_work_s.size() ? r.memory.back_to_work_s[k] : -1;
    h << "<tr><td>" << Escape(r.memory.oom_kills[k].second) << "</td><td>"
      << Fmt(r.memory.oom_kills[k].first) << "</td><td>"
      << (back < 0 ? std::string("never") : Fmt(back)) << "</td></tr>";
  }
  h << "</table>";
  return h.str();
}

std::string MemoryHtml(const Report& r) {
  if (r.memory.procs.empty()) return OomHtml(r);
  std::ostringstream h;
  h << "<h2>Memory (real: resident set per process)</h2><p>Limits enforced by <b>"
    << Escape(r.memory.mechanism.empty() ? "nothing" : r.memory.mechanism) << "</b>: worker "
    << Fmt(r.memory.worker_limit_mb) << " MiB, sink " << Fmt(r.memory.sink_limit_mb)
    << " MiB. Dashed: OOM kills by the kernel (" << r.memory.oom_kills.size()
    << ").</p><table><tr><th>process</th><th>peak MiB</th><th>slope MiB/run min</th>"
       "<th>MiB per 1,000 task runs</th><th>OOM kills</th><th>unbounded growth</th></tr>";
  std::map<std::string, std::vector<double>> series;
  for (const auto& p : r.memory.procs) {
    h << "<tr><td>" << Escape(p.proc) << "</td><td>" << Fmt(p.peak_mb) << "</td><td>"
      << Fmt(p.slope_mb_per_min) << "</td><td>" << Fmt(p.mb_per_1000_tasks) << "</td><td>"
      << p.oom_kills << "</td><td" << (p.growing ? " class=\"invalid\">yes" : ">no")
      << "</td></tr>";
    series[p.proc] = p.mb;
  }
  Marks marks;
  for (const auto& [t, who] : r.memory.oom_kills) marks.emplace_back(t, "OOM kill of " + who);
  h << "</table><h3>Resident set, MiB</h3>" << SeriesSvg(r, r.memory.t_s, series, " MiB", marks)
    << OomHtml(r);
  return h.str();
}

}  // namespace

std::string RenderHtml(const Report& r) {
  std::ostringstream h;
  const bool ok = r.verdict == "valid";
  h << internal::PageHead(r.scenario) << "<h1>" << Escape(r.scenario) << ": <span class=\"" << Escape(r.verdict) << "\">"
    << Escape(r.verdict) << "</span></h1><p>mode " << Escape(r.mode) << ", seed " << r.seed
    << ", load " << r.load << "x, engine bugs " << Escape(r.engine_bugs)
    << (r.time_scale > 0 ? "<br><b>real, time scale " + Fmt(r.time_scale) +
                               "</b>: every time is run time; a wall second is " +
                               Fmt(r.time_scale) + " run seconds"
                         : std::string())
    << "<br>counts <code>"
    << Escape(r.counts.dump()) << "</code></p><h2>Task states over time</h2>"
    << "<p>Shaded: fault windows (hover for the fault).</p>" << StatesSvg(r) << OpsHtml(r) << MemoryHtml(r)
    << "<h2>Properties</h2><table><tr><th>property</th><th>verdict</th><th>counts</th></tr>";
  for (const auto& p : r.properties) {
    h << "<tr><td>" << Escape(p.name) << "</td><td class=\"" << Escape(p.verdict) << "\">"
      << Escape(p.verdict) << "</td><td><code>" << Escape(p.counts.dump()) << "</code></td></tr>";
  }
  h << "</table>";
  if (!ok) {
    h << "<h2>Counterexamples</h2><ul>";
    for (const auto& p : r.properties) {
      for (const auto& c : p.counterexamples) h << internal::CounterexampleHtml(p.name, c);
      if (!p.error.empty())
        h << "<li><b>" << Escape(p.name) << "</b> could not judge: " << Escape(p.error) << "</li>";
    }
    h << "</ul>";
  }
  if (!r.attribution.empty()) {
    h << "<h2>Attribution</h2><p>Rows: what the plan says each task must end as (the "
         "ground truth). Columns: how it ended.</p>"
      << AttributionTable(r, true);
  }
  if (!r.root_causes.empty()) {
    h << "<h2>Root causes</h2><table><tr><th>task</th><th>tasks it kept from running</th></tr>";
    for (const auto& c : r.root_causes) {
      h << "<tr><td><code>" << Escape(c.task) << "</code></td><td>" << c.blocked << "</td></tr>";
    }
    h << "</table>";
  }
  h << "<h2>Faults</h2><ul>";
  for (const auto& f : r.faults) {
    h << "<li>" << Escape(f.kind) << (f.target.empty() ? "" : " " + Escape(f.target)) << ": "
      << Fmt(f.start_s) << " s to " << Fmt(f.end_s) << " s";
    if (f.tasks_in_flight >= 0) {
      h << ": " << f.tasks_in_flight << " tasks in flight, " << f.requests << " requests touched";
      if (f.TouchedNothing()) h << " <b class=\"unknown\">touched nothing: proves nothing</b>";
    }
    h << "</li>";
  }
  h << "</ul><p>Reproduce: <code>" << Escape(r.reproduce) << "</code><br>history sha "
    << Escape(r.history_sha) << "</p></body></html>\n";
  return h.str();
}

namespace {

// Lines against the load (x: each row's load, evenly spaced), one per series.
std::string LoadSvg(const std::vector<std::string>& loads,
                    const std::map<std::string, std::vector<double>>& series,
                    const std::string& unit) {
  const double w = 700, h = 240, left = 60, right = 160, top = 14, bottom = 30;
  if (loads.empty()) return "";
  double y_max = 1e-9;
  for (const auto& [name, v] : series) {
    for (double y : v) y_max = std::max(y_max, y);
  }
  const double n = static_cast<double>(std::max<size_t>(loads.size() - 1, 1));
  auto X = [&](size_t i) { return left + (w - left - right) * static_cast<double>(i) / n; };
  auto Y = [&](double y) { return top + (h - top - bottom) * (1.0 - y / y_max); };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" font-family=\"sans-serif\" font-size=\"11\"><line x1=\"" << left << "\" y1=\""
      << h - bottom << "\" x2=\"" << w - right << "\" y2=\"" << h - bottom
      << "\" stroke=\"#333\"/><line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
      << "\" y2=\"" << h - bottom << "\" stroke=\"#333\"/><text x=\"4\" y=\"" << top + 10
      << "\">" << Fmt(y_max) << Escape(unit) << "</text>";
  for (size_t i = 0; i < loads.size(); ++i) {
    svg << "<text x=\"" << Fmt(X(i) - 8) << "\" y=\"" << h - bottom + 14 << "\">"
        << Escape(loads[i]) << "</text>";
  }
  const char* palette[] = {"#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#8c564b"};
  int k = 0;
  for (const auto& [name, v] : series) {
    const char* color = palette[k % 6];
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < v.size(); ++i) svg << Fmt(X(i)) << "," << Fmt(Y(v[i])) << " ";
    svg << "\"/><text x=\"" << w - right + 10 << "\" y=\"" << top + 14 * (++k) << "\" fill=\""
        << color << "\">" << Escape(name) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace

std::string RenderBenchHtml(const json& bench) {
  std::ostringstream h;
  const std::string name = bench.value("scenario", "");
  h << internal::PageHead("bench: " + name) << "<h1>" << Escape(name)
    << " at multiplied load (real, time scale " << Fmt(bench.value("time_scale", 0.0))
    << ")</h1><p>Wall units: calls answered per wall second, latency in wall ms, the time to "
       "drain after the last fault healed in wall s. <code>"
    << Escape(bench.value("command", "")) << "</code></p><table><tr><th>load</th><th>tasks</th>"
    << "<th>wall s</th><th>calls/s</th><th>create p50/p99</th><th>claim p50/p99</th>"
    << "<th>report p50/p99</th><th>drain s</th><th>peak RSS MB</th><th>verdict</th></tr>";
  std::vector<std::string> loads;
  std::map<std::string, std::vector<double>> rate, p99;
  for (const auto& row : bench.value("rows", json::array())) {
    loads.push_back(Fmt(row.value("load", 0.0)) + "x");
    rate["calls/s"].push_back(row.value("calls_per_s", 0.0));
    auto lat = [&](const char* op) {
      const json ops = row.value("ops", json::object());
      if (!ops.contains(op)) return std::string("-");
      p99[op].push_back(ops[op].value("p99_ms", 0.0));
      return Fmt(ops[op].value("p50_ms", 0.0)) + " / " + Fmt(ops[op].value("p99_ms", 0.0));
    };
    std::string peaks;
    const json rss = row.value("peak_rss_bytes", json::object());
    for (const auto& [proc, bytes] : rss.items())
      peaks += proc + " " + Fmt(bytes.get<double>() / (1024.0 * 1024.0)) + "<br>";
    const std::string verdict = row.value("verdict", "");
    h << "<tr><td>" << Fmt(row.value("load", 0.0)) << "x</td><td>" << row.value("tasks", 0)
      << "</td><td>" << Fmt(row.value("wall_s", 0.0)) << "</td><td>"
      << Fmt(row.value("calls_per_s", 0.0)) << "</td><td>" << lat("create") << "</td><td>"
      << lat("claim") << "</td><td>" << lat("report-completed") << "</td><td>"
      << Fmt(row.value("drain_wall_s", -1.0)) << "</td><td>" << peaks << "</td><td class=\""
      << Escape(verdict) << "\">" << Escape(verdict) << "</td></tr>";
  }
  h << "</table><h2>Calls answered per wall second</h2>" << LoadSvg(loads, rate, "/s")
    << "<h2>p99 latency (wall ms)</h2>" << LoadSvg(loads, p99, " ms") << "</body></html>\n";
  return h.str();
}

bool internal::WriteFiles(const std::string& dir,
                          const std::vector<std::pair<const char*, std::string>>& files) {
  bool ok = true;
  for (const auto& [name, text] : files) {
    std::ofstream f(dir + "/" + name);
    f << text;
    ok &= static_cast<bool>(f);
  }
  return ok;
}

bool WriteAll(const Report& r, const std::string& dir) {
  return internal::WriteFiles(dir, {{"report.json", ToJson(r).dump(2) + "\n"},
                                    {"junit.xml", RenderJunit(r)},
                                    {"summary.md", RenderMarkdown(r)},
                                    {"report.html", RenderHtml(r)}});
}

}  // namespace ithappens::reports
