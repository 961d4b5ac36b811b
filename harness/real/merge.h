// Real mode's history is written by several processes: the harness (its clients, the
// nemesis, the plan), each worker (its op log: ithappens-worker --history) and the sink.
// MergeHistories joins their records into one history.jsonl: every line checked as an
// event, ordered by t_ns (the run's time since its origin; records of equal time keep
// their source's order, and sources the order given), numbered i from 0.
#pragma once

#include <filesystem>
#include <vector>

#include "engine/status.h"

namespace ithappens::harness {

// INVALID_ARGUMENT naming source:line and the field for a line that is not an event (a
// line without "i" is numbered here; one with "i" is renumbered).
engine::Status MergeHistories(const std::vector<std::filesystem::path>& sources,
                              const std::filesystem::path& out);

}  // namespace ithappens::harness
