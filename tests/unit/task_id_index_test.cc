// The engine's id index (engine/include/engine/task_id_index.h) keeps 32 bits of each id's
// hash and no key: every id it was given is found at its index through every growth, an
// id it was not given is not, and ids whose kept bits are equal are told apart by their
// text (among 400,000 ids some are: the birthday bound gives about 19 such pairs).
#include "engine/task_id_index.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "engine/task.h"

namespace ithappens::engine {
namespace {

TEST(TaskIdIndex, FindsEveryIdAtItsIndexThroughGrowthAndNoIdItWasNotGiven) {
  constexpr int64_t kIds = 400'000;
  std::vector<std::string> ids;
  ids.reserve(kIds);
  for (int64_t i = 0; i < kIds; ++i) ids.push_back(DeterministicTaskId("index", i, "task"));
  const auto key_of = [&](uint32_t k) -> std::string_view { return ids[k]; };
  TaskIdIndex index;
  std::unordered_map<uint32_t, int> tags;  // how many ids share each kept hash
  for (uint32_t k = 0; k < kIds; ++k) {
    ASSERT_EQ(index.Find(ids[k], key_of), TaskIdIndex::kNone) << "not given yet: " << ids[k];
    index.Insert(ids[k], k);  // grows from empty: every capacity up to 2^20 slots
    ++tags[static_cast<uint32_t>(TaskIdIndex::Hash(ids[k]))];
  }
  int shared = 0;
  for (const auto& [tag, n] : tags) shared += n > 1;
  EXPECT_GT(shared, 0) << "some ids share their kept bits, so the text must tell them apart";
  for (uint32_t k = 0; k < kIds; ++k) ASSERT_EQ(index.Find(ids[k], key_of), k) << ids[k];
  for (int64_t i = 0; i < 10'000; ++i) {
    const std::string other = DeterministicTaskId("other", i, "task");
    ASSERT_EQ(index.Find(other, key_of), TaskIdIndex::kNone) << other;
  }
  index.Reserve(4 * kIds);  // a bigger table places every id again from its kept bits
  for (uint32_t k = 0; k < kIds; ++k) ASSERT_EQ(index.Find(ids[k], key_of), k) << ids[k];
}

// FindOrInsert is Find and Insert in one probe: a held id gives its index and changes
// nothing, an absent one is inserted.
TEST(TaskIdIndex, FindOrInsertGivesAHeldIdsIndexAndInsertsOnlyAnAbsentOne) {
  constexpr int64_t kIds = 100'000;
  std::vector<std::string> ids;
  for (int64_t i = 0; i < kIds; ++i) ids.push_back(DeterministicTaskId("once", i, "task"));
  const auto key_of = [&](uint32_t k) -> std::string_view { return ids[k]; };
  TaskIdIndex index;
  for (uint32_t k = 0; k < kIds; ++k)
    ASSERT_EQ(index.FindOrInsert(ids[k], k, key_of), TaskIdIndex::kNone) << ids[k];
  for (uint32_t k = 0; k < kIds; ++k) {
    // Asked again with another index: the held one, and the held one stays.
    ASSERT_EQ(index.FindOrInsert(ids[k], k + 1, key_of), k) << ids[k];
    ASSERT_EQ(index.Find(ids[k], key_of), k) << ids[k];
  }
}

}  // namespace
}  // namespace ithappens::engine
