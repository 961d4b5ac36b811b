// Proves the layout of DESIGN.md holds in the source tree, as the build cannot show it
// alone: one CMake library per folder of harness/, each folder including only the folders
// the design lets it depend on (docs/decisions.md, "Build: the layout is enforced"); the
// harness sees the engine only through engine/include/engine/ (the compiler refuses the
// rest too: the harness libraries have no repository-root include path); checkers and
// history never include the engine; reports include nothing of ours; the engine never
// includes the harness.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

namespace ithappens::harness {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = ITHAPPENS_SOURCE_DIR;

// The folder a quoted include points into: "api" for harness/<x>.h (harness/include),
// "engine" for a public engine header, "engine-internal" for any other engine path,
// "proto" for the generated wire code, "reports", or the harness folder.
std::string FolderOf(const std::string& include) {
  if (include.rfind("harness/", 0) == 0) {
    const std::string rest = include.substr(8);
    const size_t slash = rest.find('/');
    return slash == std::string::npos ? "api" : rest.substr(0, slash);
  }
  if (include.rfind("engine/proto/", 0) == 0) return "proto";
  if (include.rfind("engine/", 0) == 0) {
    const std::string rest = include.substr(7);
    return rest.find('/') == std::string::npos && fs::exists(kRoot / "engine/include/engine" / rest)
               ? "engine"
               : "engine-internal";
  }
  if (include.rfind("reports/", 0) == 0) return "reports";
  if (include.rfind("tests/", 0) == 0) return "tests";
  return "other:" + include;
}

std::vector<std::pair<fs::path, std::string>> Includes(const fs::path& dir) {
  std::vector<std::pair<fs::path, std::string>> out;
  const std::regex include(R"re(^\s*#\s*include\s+"([^"]+)")re");
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    const auto ext = f.path().extension();
    if (ext != ".h" && ext != ".cc") continue;
    std::ifstream in(f.path());
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_search(line, m, include)) out.emplace_back(f.path(), m[1]);
    }
  }
  return out;
}

// Which folders each folder of harness/ may include (besides itself).
const std::map<std::string, std::set<std::string>>& Allowed() {
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"include", {"api", "faults", "engine"}},
      {"faults", {"api"}},
      {"history", {"api"}},
      {"checkers", {"api", "history"}},
      {"scenario", {"api", "faults", "engine"}},
      {"load", {"api", "faults", "scenario", "history", "engine"}},
      {"targets", {"api", "engine"}},
      {"sim", {"api", "faults", "scenario", "load", "history", "targets", "engine"}},
      {"real", {"api", "faults", "scenario", "load", "history", "targets", "engine", "proto"}},
      {"cli",
       {"api", "faults", "scenario", "load", "history", "checkers", "sim", "real", "reports",
        "engine"}},
  };
  return allowed;
}

TEST(Layout, EachHarnessFolderIncludesOnlyWhatTheDesignAllows) {
  size_t judged = 0;
  for (const auto& d : fs::directory_iterator(kRoot / "harness")) {
    if (!d.is_directory()) continue;
    const std::string folder = d.path().filename();
    auto it = Allowed().find(folder);
    ASSERT_NE(it, Allowed().end()) << "harness/" << folder << " is not in the design's layout";
    for (const auto& [file, include] : Includes(d.path())) {
      const std::string to = FolderOf(include);
      if (to == folder || (folder == "include" && to == "api")) continue;
      EXPECT_TRUE(it->second.count(to))
          << fs::relative(file, kRoot).string() << " includes \"" << include << "\" (" << to
          << "), which harness/" << folder << " may not depend on";
      ++judged;
    }
  }
  EXPECT_GT(judged, 30u);
}

TEST(Layout, EachHarnessFolderIsOneLibraryBuildingOnlyItsOwnSources) {
  for (const auto& d : fs::directory_iterator(kRoot / "harness")) {
    if (!d.is_directory() || d.path().filename() == "include") continue;
    std::ifstream in(d.path() / "CMakeLists.txt");
    ASSERT_TRUE(in) << d.path() << " has no CMakeLists.txt";
    const std::string cmake((std::istreambuf_iterator<char>(in)), {});
    EXPECT_TRUE(cmake.find("add_library(") != std::string::npos ||
                cmake.find("add_executable(") != std::string::npos)
        << d.path();
    EXPECT_EQ(cmake.find(".."), std::string::npos) << d.path() << " builds another folder's file";
    for (const auto& f : fs::directory_iterator(d.path())) {
      if (f.path().extension() != ".cc") continue;
      EXPECT_NE(cmake.find(f.path().filename().string()), std::string::npos)
          << f.path() << " is not built by its folder's library";
    }
  }
}

TEST(Layout, ReportsIncludeNothingOfOursAndTheEngineNoHarness) {
  for (const auto& [file, include] : Includes(kRoot / "reports")) {
    EXPECT_EQ(FolderOf(include), "reports") << file << " includes \"" << include << "\"";
  }
  for (const auto& [file, include] : Includes(kRoot / "engine")) {
    const std::string to = FolderOf(include);
    EXPECT_TRUE(to == "engine" || to == "engine-internal" || to == "proto")
        << file << " includes \"" << include << "\"";
  }
}

// The check itself can fail: an include of an engine internal is not "engine".
TEST(Layout, TheCheckTellsPublicEngineHeadersFromInternals) {
  EXPECT_EQ(FolderOf("engine/queue.h"), "engine");
  EXPECT_EQ(FolderOf("engine/core/queue_impl.h"), "engine-internal");
  EXPECT_EQ(FolderOf("engine/nonexistent.h"), "engine-internal");
  EXPECT_EQ(FolderOf("harness/checker.h"), "api");
  EXPECT_EQ(FolderOf("harness/sim/sim.h"), "sim");
  EXPECT_FALSE(Allowed().at("checkers").count("sim"));
  EXPECT_FALSE(Allowed().at("checkers").count("engine"));
}

}  // namespace
}  // namespace ithappens::harness
