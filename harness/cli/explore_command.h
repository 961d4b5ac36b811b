// `ithappens explore SCENARIO` and `ithappens merge DIR...` (DESIGN.md, "Exploration,
// shrinking, sharding"; docs/decisions.md, "Exploration (issue 12)").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ithappens::harness {

struct ExploreArgs {
  std::string file;
  std::string out = "out";
  std::optional<int64_t> seeds;     // --seeds N (default 100)
  std::string time_text;            // --time 10m
  std::optional<uint64_t> seed;     // --seed: the first seed (default: the scenario's)
  int jobs = 0;                     // 0: every core
  std::string shard_text;           // --shard i/n
  bool keep_going = false;
  std::vector<std::string> bug_names;
  std::string load_text = "1x";
  int shrink_runs = 300;            // per property; 0: write the original only
};

// Exit 0 no seed violated a property, 1 one did (each property's first violation shrunk
// and written as OUT/<scenario>/minimal-<property>.yaml), 2 bad usage, 3 the harness.
int ExploreCommand(const ExploreArgs& a);
// Joins shard outputs into OUT/<scenario>/ as one unsharded exploration would have written
// it; exit as explore's, 2 when the directories are not the shards of one exploration.
int MergeCommand(const std::vector<std::string>& dirs, const std::string& out);

}  // namespace ithappens::harness
