// Upper bounds of the encoded size of what the engine answers (engine/proto/queue.proto),
// computed from the engine's own types, without the proto. The queue caps every answer
// that can grow (a claim batch, a page of a task group) by these bounds *before* it
// commits or builds it: it never hands out a claim it cannot send (a ClaimWork answer over
// gRPC's message cap fails as a whole, and its claims would stay `running` for a worker
// that never received them). tests/integration proves bound >= the proto's ByteSizeLong.
#pragma once

#include <cstddef>

#include "engine/task.h"

namespace ithappens::engine {

// The gRPC message cap of the engine, its clients and workers (both directions).
inline constexpr size_t kMaxMessageBytes = 8 * 1024 * 1024;
// What an answer may fill: the cap less room for gRPC's and the envelope's own bytes.
inline constexpr size_t kResponseBudgetBytes = kMaxMessageBytes - 64 * 1024;

// One ClaimedTask inside a ClaimWorkResponse (the definition, run id, lease).
size_t ClaimWireSizeBound(const TaskDefinition& def);
// One TaskStatus inside a repeated field (ListTaskGroupResponse, BatchResponse).
size_t StatusWireSizeBound(const TaskStatus& status);

}  // namespace ithappens::engine
