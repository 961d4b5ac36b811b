// Input validation for the queue's public calls. Every error is INVALID_ARGUMENT and names
// the field and the bound, e.g. "retries: 50 is outside 0..49".
#pragma once

#include <string_view>

#include "engine/status.h"
#include "engine/task.h"

namespace ithappens::engine {

// Checks every field of def and fills in defaults (taskGroupId = taskId, expires =
// deadline + 1 year). Dependencies are checked for format, count, duplicates and
// self-reference here; existence is the queue's job. `created` is checked against the
// clock separately (ValidateCreatedWindow), since an identical retry of an existing task
// is accepted however late it comes.
Status ValidateTaskDefinition(TaskDefinition* def);
// The same checks, in the same order, of a definition that has its defaults already
// (HasDefaults): nothing to fill in, so nothing to copy.
Status ValidateTaskDefinitionWithDefaults(const TaskDefinition& def);
// |created - now| <= kMaxCreatedSkewMs.
Status ValidateCreatedWindow(const TaskDefinition& def, TimeMs now_ms);
// Checks the parts of a task definition that do not depend on time (used by hooks).
Status ValidateTaskShape(const TaskDefinition& def, std::string_view field_prefix);
Status ValidateWorker(std::string_view worker_group, std::string_view worker_id);
Status ValidateTaskId(std::string_view task_id, std::string_view field);
Status ValidateHook(const HookDefinition& hook);

}  // namespace ithappens::engine
