#include "harness/history/timeline.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "harness/history/history.h"

namespace ithappens::harness {
void TimelineBuilder::Add(uint32_t task_ix, std::string_view task, int64_t t_ms,
                          std::string_view state) {
  uint32_t* slot;
  if (task_ix != kNoTask) {
    if (task_ix >= task_of_ix_.size())
      task_of_ix_.resize(std::max<size_t>(task_ix + 1, task_of_ix_.size() * 2), kNoTask);
    slot = &task_of_ix_[task_ix];
  } else {
    auto it = task_of_name_.find(task);
    if (it == task_of_name_.end()) it = task_of_name_.emplace(std::string(task), kNoTask).first;
    slot = &it->second;
  }
  if (*slot == kNoTask) *slot = tasks_++;
  moves_.push_back(Move{t_ms, *slot, State(state)});
}

uint32_t TimelineBuilder::State(std::string_view name) {
  // The last one asked for first: runs of one state are the common case.
  if (last_state_ != kNoState && states_[last_state_] == name) return last_state_;
  auto it = state_of_name_.find(name);
  if (it == state_of_name_.end()) {
    it = state_of_name_.emplace(std::string(name), static_cast<uint32_t>(states_.size())).first;
    states_.emplace_back(name);
  }
  last_state_ = it->second;
  return last_state_;
}

void TimelineBuilder::Observe(const EventView& e) {
  const int64_t t = e.t_ns / 1'000'000;
  t_max_ms_ = std::max(t_max_ms_, t);
  if (e.type == EventType::kFault) {
    const std::string target(e.target);
    std::string_view name;
    bool start = false;
    if (!ParseFaultEdge(e.f, &name, &start)) return;
    const std::string kind(name);
    if (start) {
      if (open_.count({kind, target})) return;  // already open: one window
      open_[{kind, target}] = faults_.size();
      faults_.push_back(FaultSpan{kind, target, t / 1000.0, -1});
    } else {
      auto it = open_.find({kind, target});
      if (it != open_.end()) {
        faults_[it->second].end_s = t / 1000.0;
        open_.erase(it);
      }
    }
    return;
  }
  const bool work = (e.type == EventType::kInvoke && !e.task.empty()) ||
                    (e.type == EventType::kOk && e.call == Call::kClaim && !e.runs.empty()) ||
                    e.type == EventType::kEffect;
  if (work) {
    for (const auto& [key, ix] : open_) {
      const std::string& target = key.second;
      const bool sink = e.type == EventType::kEffect || e.call == Call::kDeliver;
      if (target.empty() || target == "all" || target == e.proc || (target == "sink" && sink))
        faults_[ix].requests++;
    }
  }
  if (e.type == EventType::kOk) {
    switch (e.call) {
      case Call::kCreate:
        Add(e.task_ix, e.task, t, "pending");
        break;
      case Call::kClaim:
        for (const RunFacts& r : e.runs) Add(r.task_ix, r.task, t, "running");
        break;
      case Call::kReportCompleted:
        Add(e.task_ix, e.task, t, "completed");
        break;
      case Call::kReportFailed:
        Add(e.task_ix, e.task, t, "failed");
        break;
      case Call::kReportException:
        Add(e.task_ix, e.task, t, "exception");
        break;
      default:
        break;
    }
  }
  if (e.type == EventType::kPlan && e.call == Call::kHook) {
    for (const auto& fire : e.value().value("fires", nlohmann::json::array()))
      fired_at_[fire.value("task", "")] = fire.value("at_ms", int64_t{0});
  }
  if (e.type == EventType::kFinal && e.error.empty()) {
    // A hook's task was pending from its fire time (no client created it).
    if (!fired_at_.empty()) {
      auto fire = fired_at_.find(e.task);
      if (fire != fired_at_.end()) Add(e.task_ix, e.task, fire->second, "pending");
    }
    // A terminal task moves when its last run resolved (a deadline or an expiry
    // resolves it without any report), not when it was read.
    const bool terminal = IsTerminalState(e.state);
    int64_t when = t;
    if (terminal && !e.runs.empty() && e.runs.back().resolved_ms > 0)
      when = std::min(t, e.runs.back().resolved_ms);
    Add(e.task_ix, e.task, when, e.state.empty() ? "unscheduled" : e.state);
  }
}

void TimelineBuilder::Finish(int samples, Timeline* out) {
  // Moves placed at earlier times (fires, resolutions) go where they belong; moves of the
  // same time keep the order they were seen in.
  std::stable_sort(moves_.begin(), moves_.end(),
                   [](const Move& a, const Move& b) { return a.t_ms < b.t_ms; });
  for (const auto& [key, ix] : open_) faults_[ix].end_s = t_max_ms_ / 1000.0;  // still open
  out->faults = std::move(faults_);
  std::vector<bool> terminal(states_.size());
  for (size_t k = 0; k < states_.size(); ++k) terminal[k] = IsTerminalState(states_[k]);
  // Each task is in flight from its first move (created, fired, claimed) until it first
  // reaches a terminal state.
  std::vector<int64_t> from(tasks_, -1), until(tasks_, -1);
  for (const Move& m : moves_) {
    if (from[m.task] < 0) from[m.task] = m.t_ms;
    if (until[m.task] < 0 && terminal[m.state]) until[m.task] = m.t_ms;
  }
  for (FaultSpan& f : out->faults) {
    const int64_t a = static_cast<int64_t>(f.start_s * 1000),
                  b = static_cast<int64_t>(f.end_s * 1000);
    for (size_t k = 0; k < from.size(); ++k)
      f.tasks_in_flight += from[k] >= 0 && from[k] <= b && (until[k] < 0 || until[k] >= a);
  }
  std::vector<uint32_t> state(tasks_, kNoState);
  // Per state: tasks in it now, and whether a sample has met it (only those are plotted).
  std::vector<int64_t> count(states_.size(), 0);
  std::vector<bool> met(states_.size(), false);
  size_t next = 0;
  samples = std::max(samples, 2);
  for (int k = 0; k < samples; ++k) {
    const int64_t at = t_max_ms_ * k / (samples - 1);
    for (; next < moves_.size() && moves_[next].t_ms <= at; ++next) {
      const Move& m = moves_[next];
      if (state[m.task] != kNoState) count[state[m.task]]--;
      state[m.task] = m.state;
      count[m.state]++;
      met[m.state] = true;
    }
    out->t_s.push_back(at / 1000.0);
    for (size_t s = 0; s < states_.size(); ++s) {
      if (!met[s]) continue;
      auto& series = out->tasks[states_[s]];
      series.resize(out->t_s.size() - 1, 0);
      series.push_back(count[s]);
    }
  }
  for (auto& [s, series] : out->tasks) series.resize(out->t_s.size(), 0);
}

bool BuildTimeline(const std::string& path, int samples, Timeline* out, std::string* error) {
  TimelineBuilder b;
  if (!ReadEventsInto(path, &b, error)) return false;
  b.Finish(samples, out);
  return true;
}

bool CollectTaskEvents(const std::string& path, const std::vector<std::string>& tasks,
                       const std::vector<int64_t>& events, size_t max_per_task,
                       std::map<std::string, std::vector<TaskEvent>>* by_task,
                       std::map<int64_t, double>* event_t_s, std::string* error) {
  std::map<std::string, std::vector<TaskEvent>>& out = *by_task;
  std::map<std::string, size_t> seen;  // events of the task so far, kept or not
  for (const auto& t : tasks) out[t];
  std::set<int64_t> wanted(events.begin(), events.end());
  const size_t head = max_per_task / 2;
  auto keep = [&](const std::string& task, const EventView& e, std::string detail) {
    auto it = out.find(task);
    if (it == out.end()) return;
    const size_t n = seen[task]++;
    if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
    TaskEvent te{e.i,
                 e.t_ns / 1e9,
                 std::string(e.proc),
                 std::string(ToString(e.type)),
                 std::string(e.f),
                 std::move(detail)};
    std::vector<TaskEvent>& v = it->second;
    if (n < max_per_task) {
      v.push_back(std::move(te));
    } else {  // keep the first half and a sliding tail
      v.erase(v.begin() + static_cast<ptrdiff_t>(head));
      v.push_back(std::move(te));
    }
  };
  return ReadEvents(
      path,
      [&](const EventView& e) {
        if (wanted.count(e.i)) (*event_t_s)[e.i] = e.t_ns / 1e9;
        std::string detail = e.error.empty() ? std::string(e.value_json) : std::string(e.error);
        if (!e.task.empty()) keep(std::string(e.task), e, detail);
        if (e.type == EventType::kOk && e.f == "claim") {
          for (const RunFacts& r : e.runs) {
            if (out.count(std::string(r.task)))
              keep(std::string(r.task), e, "run " + std::to_string(r.run) + " of it");
          }
        }
      },
      error);
}

namespace {

double Quantile(std::vector<double>* v, double q) {
  if (v->empty()) return 0;
  const size_t k = std::min(v->size() - 1, static_cast<size_t>(q * static_cast<double>(v->size())));
  std::nth_element(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(k), v->end());
  return (*v)[k];
}

}  // namespace

namespace {

// Least-squares slope of y over x (0 with fewer than 2 points or no spread in x).
double Slope(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return 0;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  return sxx > 0 ? sxy / sxx : 0;
}

}  // namespace

void MemoryBuilder::Observe(const EventView& e) {
  Memory* out = &memory_;
  const double t_s = static_cast<double>(e.t_ns) / 1e9;
  if (e.type == EventType::kOk && e.f.starts_with("report-")) report_t_s_.push_back(t_s);
  if (e.type == EventType::kOk && e.call == Call::kClaim &&
      e.value_json.find("\"task\"") != std::string_view::npos)
    work_at_[std::string(e.proc)].push_back(t_s);
  if (e.type == EventType::kFault &&
      (IsFaultOf(e.f, FaultKindId::kWorkerOom) || IsFaultOf(e.f, FaultKindId::kSinkOom))) {
    const std::string who = e.value().value("target", "");
    oom_at_[who].push_back(t_s);
    out->oom_kills.emplace_back(t_s, who);
  }
  if (e.type != EventType::kInfo || e.proc != "supervisor") return;
  if (e.f == "started" && e.value().contains("memory_limit")) {
    const auto& m = e.value()["memory_limit"];
    out->mechanism = m.value("mechanism", "");
    out->worker_limit_bytes = m.value("worker_bytes", int64_t{0});
    out->sink_limit_bytes = m.value("sink_bytes", int64_t{0});
  }
  if (e.f != "rss" || !e.value().contains("bytes")) return;
  out->t_s.push_back(t_s);
  std::map<std::string, int64_t> sample;
  for (const auto& [proc, bytes] : e.value()["bytes"].items()) sample[proc] = bytes.get<int64_t>();
  samples_.push_back(std::move(sample));
}

bool BuildMemory(const std::string& path, Memory* out, std::string* error) {
  MemoryBuilder b;
  if (!ReadEventsInto(path, &b, error)) return false;
  b.Finish(out);
  return true;
}

void MemoryBuilder::Finish(Memory* out) {
  *out = std::move(memory_);
  for (const auto& [t, who] : out->oom_kills) {
    const auto& work = work_at_[who];
    auto next = std::upper_bound(work.begin(), work.end(), t);
    out->back_to_work_s.push_back(next == work.end() ? -1 : *next - t);
  }
  for (const auto& sample : samples_)
    for (const auto& [proc, bytes] : sample) out->procs[proc];
  for (auto& [proc, series] : out->procs) {
    series.oom_kills = static_cast<int>(oom_at_[proc].size());
    // Its lives: runs of samples while it was up, split where it was down (0) or where
    // its resident set fell to less than half (restarted between two samples).
    std::vector<std::pair<size_t, size_t>> lives;
    size_t from = 0;
    bool in_life = false;
    for (size_t i = 0; i < samples_.size(); ++i) {
      auto it = samples_[i].find(proc);
      const int64_t b = it == samples_[i].end() ? 0 : std::max<int64_t>(0, it->second);
      series.bytes.push_back(b);
      series.peak_bytes = std::max(series.peak_bytes, b);
      const bool restarted = in_life && b > 0 && b * 2 < series.bytes[i - 1];
      if (in_life && (b == 0 || restarted)) {
        lives.emplace_back(from, i);
        in_life = false;
      }
      if (!in_life && b > 0) {
        from = i;
        in_life = true;
      }
    }
    if (in_life) lives.emplace_back(from, samples_.size());
    for (const auto& [a, b] : lives) {
      std::vector<double> x, y;
      for (size_t i = a; i < b; ++i) {
        x.push_back(out->t_s[i] / 60.0);
        y.push_back(static_cast<double>(series.bytes[i]) / (1 << 20));
      }
      const double slope = Slope(x, y);  // MiB per run minute
      const double end_s = b < out->t_s.size() ? out->t_s[b] : out->t_s.back() + 1;
      bool killed = false;
      for (double t : oom_at_[proc]) killed |= t >= out->t_s[a] && t <= end_s;
      // The later half: still growing at a steady rate, by enough to matter.
      const size_t mid = a + (b - a) / 2;
      std::vector<double> hx(x.begin() + static_cast<ptrdiff_t>(mid - a), x.end()),
          hy(y.begin() + static_cast<ptrdiff_t>(mid - a), y.end());
      const double late_growth_mb =
          hx.size() >= 4 ? Slope(hx, hy) * (hx.back() - hx.front()) : 0;
      const bool grows = killed || (late_growth_mb >= 16 && late_growth_mb >= y.front() / 4);
      if (slope > series.slope_mb_per_min || (grows && !series.growing)) {
        series.slope_mb_per_min = slope;
        const double span_min = std::max(1e-9, x.back() - x.front());
        const auto runs = std::count_if(report_t_s_.begin(), report_t_s_.end(), [&](double t) {
          return t >= out->t_s[a] && t <= out->t_s[b - 1];
        });
        series.mb_per_1000_tasks =
            runs > 0 ? slope * span_min / static_cast<double>(runs) * 1000 : 0;
      }
      series.growing |= grows;
    }
  }
}

void LatencyBuilder::Observe(const EventView& e) {
  t_max_ns_ = std::max(t_max_ns_, e.t_ns);
  const bool answer =
      e.type == EventType::kOk || e.type == EventType::kFail || e.type == EventType::kInfo;
  if (e.type != EventType::kInvoke && !answer) return;
  key_.assign(e.proc).append("\n").append(e.f).append("\n").append(e.task);
  if (e.type == EventType::kInvoke) {
    open_[key_] = e.t_ns;
    return;
  }
  auto it = open_.find(key_);
  if (it == open_.end()) return;
  answers_[std::string(e.f)].push_back(
      Answer{e.t_ns, static_cast<double>(e.t_ns - it->second) / 1e6});
  open_.erase(it);
}

bool BuildLatency(const std::string& path, int buckets, Latency* out, std::string* error) {
  LatencyBuilder b;
  if (!ReadEventsInto(path, &b, error)) return false;
  b.Finish(buckets, out);
  return true;
}

void LatencyBuilder::Finish(int buckets, Latency* out) {
  const int64_t t_max = t_max_ns_;
  buckets = std::max(buckets, 1);
  const double span_s = std::max(1e-3, static_cast<double>(t_max) / 1e9);
  const double width_s = span_s / buckets;
  out->t_s.clear();
  for (int b = 0; b < buckets; ++b) out->t_s.push_back(b * width_s);
  for (auto& [op, list] : answers_) {
    OpSeries& s = out->ops[op];
    s.calls = static_cast<int64_t>(list.size());
    std::vector<std::vector<double>> in(static_cast<size_t>(buckets));
    std::vector<double> all;
    for (const Answer& a : list) {
      const int b = std::min(buckets - 1, static_cast<int>(static_cast<double>(a.t_ns) / 1e9 / width_s));
      in[static_cast<size_t>(b)].push_back(a.ms);
      all.push_back(a.ms);
    }
    s.p50_ms = Quantile(&all, 0.5);
    s.p99_ms = Quantile(&all, 0.99);
    for (auto& v : in) {
      s.per_s.push_back(static_cast<double>(v.size()) / width_s);
      s.p50_ms_t.push_back(Quantile(&v, 0.5));
      s.p99_ms_t.push_back(Quantile(&v, 0.99));
    }
  }
}

}  // namespace ithappens::harness
