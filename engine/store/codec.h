// JSON forms of task and hook definitions, with Taskcluster's field names. Used by the
// SQLite store (the definition column) and, later, by the wire and the harness.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"
#include "engine/task.h"

namespace ithappens::engine {

std::string EncodeTaskDefinition(const TaskDefinition& def);
Result<TaskDefinition> DecodeTaskDefinition(std::string_view json);
std::string EncodeHookDefinition(const HookDefinition& hook);
Result<HookDefinition> DecodeHookDefinition(std::string_view json);

}  // namespace ithappens::engine
