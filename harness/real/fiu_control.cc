#include "harness/real/fiu_control.h"

#include <cstdio>
#include <fstream>

namespace ithappens::harness {

engine::Status FiuControl::Command(const std::string& command) {
  {
    std::ofstream in(base_ + ".in");  // a fifo: opening blocks until the engine reads it
    if (!in) return engine::Status::Unavailable(base_ + ".in: cannot open (is the engine up?)");
    in << command << "\n";
  }
  std::ifstream out(base_ + ".out");
  std::string answer;
  if (!std::getline(out, answer))
    return engine::Status::Unavailable(base_ + ".out: no answer to '" + command + "'");
  if (answer != "0") {
    return engine::Status::Unavailable("libfiu refused '" + command + "': answered " + answer);
  }
  return engine::Status::Ok();
}

engine::Status FiuControl::Enable(const std::string& point, double probability) {
  if (!(probability > 0 && probability <= 1))
    return engine::Status::InvalidArgument("probability: outside (0, 1]");
  char p[32];
  std::snprintf(p, sizeof p, "%.6f", probability);
  return probability >= 1 ? Command("enable name=" + point)
                          : Command("enable_random name=" + point + ",probability=" + p);
}

engine::Status FiuControl::Disable(const std::string& point) {
  return Command("disable name=" + point);
}

}  // namespace ithappens::harness
