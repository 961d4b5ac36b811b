#include "harness/real/merge.h"

#include <algorithm>
#include <fstream>

#include "harness/history/history.h"

namespace ithappens::harness {

engine::Status MergeHistories(const std::vector<std::filesystem::path>& sources,
                              const std::filesystem::path& out) {
  std::vector<Event> events;
  for (const auto& source : sources) {
    std::ifstream in(source);
    if (!in) return engine::Status::InvalidArgument(source.string() + ": cannot read");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (line.empty()) continue;
      if (line.rfind("{\"i\":", 0) != 0 && line.front() == '{') line.insert(1, "\"i\":0,");
      Event e;
      std::string why;
      if (!EventFromJson(line, &e, &why)) {
        return engine::Status::InvalidArgument(source.string() + ":" + std::to_string(n) + ": " +
                                               why);
      }
      events.push_back(std::move(e));
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.t_ns < b.t_ns; });
  HistoryWriter w(out.string());
  if (!w.ok()) return engine::Status::Unavailable(out.string() + ": cannot write");
  for (Event& e : events) w.Append(e);
  if (std::string why; !w.Close(&why)) return engine::Status::Unavailable(why);
  return engine::Status::Ok();
}

}  // namespace ithappens::harness
