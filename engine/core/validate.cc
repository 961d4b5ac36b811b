#include "engine/core/validate.h"

#include <set>
#include <string>

#include "engine/cron.h"

namespace ithappens::engine {
namespace {

std::string Field(std::string_view prefix, std::string_view name) {
  std::string f(prefix);
  f += name;
  return f;
}

Status TooLong(const std::string& field, size_t len, size_t max) {
  return Status::InvalidArgument(field + ": length " + std::to_string(len) +
                                 " exceeds the limit of " + std::to_string(max));
}

Status CheckLength(std::string_view prefix, std::string_view name, std::string_view v, size_t max) {
  if (v.size() > max) return TooLong(Field(prefix, name), v.size(), max);
  return Status::Ok();
}

}  // namespace

Status ValidateTaskId(std::string_view task_id, std::string_view field) {
  if (IsValidSlug(task_id)) return Status::Ok();
  std::string shown(task_id.substr(0, 40));
  return Status::InvalidArgument(std::string(field) + ": '" + shown +
                                 "' is not a slug (22 characters of [A-Za-z0-9_-] encoding 16 "
                                 "bytes, ending in one of A, Q, g, w)");
}

Status ValidateTaskShape(const TaskDefinition& def, std::string_view p) {
  if (def.retries < 0 || def.retries > kMaxRetries) {
    return Status::InvalidArgument(Field(p, "retries") + ": " + std::to_string(def.retries) +
                                   " is outside 0.." + std::to_string(kMaxRetries));
  }
  if (def.dependencies.size() > kMaxDependencies) {
    return Status::InvalidArgument(
        Field(p, "dependencies") + ": " + std::to_string(def.dependencies.size()) +
        " entries exceed the limit of " + std::to_string(kMaxDependencies));
  }
  std::set<std::string_view> seen;
  for (size_t i = 0; i < def.dependencies.size(); ++i) {
    const std::string& dep = def.dependencies[i];
    std::string field = Field(p, "dependencies[" + std::to_string(i) + "]");
    ITHAPPENS_RETURN_IF_ERROR(ValidateTaskId(dep, field));
    if (!def.task_id.empty() && dep == def.task_id) {
      return Status::InvalidArgument(field + ": a task cannot depend on itself");
    }
    if (!seen.insert(dep).second) {
      return Status::InvalidArgument(field + ": '" + dep + "' is listed twice");
    }
  }
  if (def.routes.size() > kMaxRoutes) {
    return Status::InvalidArgument(Field(p, "routes") + ": " + std::to_string(def.routes.size()) +
                                   " entries exceed the limit of " + std::to_string(kMaxRoutes));
  }
  for (size_t i = 0; i < def.routes.size(); ++i) {
    std::string field = Field(p, "routes[" + std::to_string(i) + "]");
    if (def.routes[i].empty()) return Status::InvalidArgument(field + ": must not be empty");
    if (def.routes[i].size() > kMaxRouteLength) {
      return TooLong(field, def.routes[i].size(), kMaxRouteLength);
    }
  }
  if (def.payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument(Field(p, "payload") + ": " + std::to_string(def.payload.size()) +
                                   " bytes exceed the limit of " +
                                   std::to_string(kMaxPayloadBytes) + " bytes");
  }
  ITHAPPENS_RETURN_IF_ERROR(
      CheckLength(p, "metadata.name", def.metadata.name, kMaxMetadataNameLength));
  ITHAPPENS_RETURN_IF_ERROR(CheckLength(p, "metadata.description", def.metadata.description,
                                        kMaxMetadataDescriptionLength));
  ITHAPPENS_RETURN_IF_ERROR(
      CheckLength(p, "metadata.owner", def.metadata.owner, kMaxMetadataOwnerLength));
  ITHAPPENS_RETURN_IF_ERROR(
      CheckLength(p, "metadata.source", def.metadata.source, kMaxMetadataSourceLength));
  if (static_cast<int>(def.priority) >= kPriorityLevels) {
    return Status::InvalidArgument(Field(p, "priority") + ": unknown level");
  }
  if (def.requires_ != Requires::kAllCompleted && def.requires_ != Requires::kAllResolved) {
    return Status::InvalidArgument(Field(p, "requires") +
                                   ": must be all-completed or all-resolved");
  }
  return Status::Ok();
}

Status ValidateCreatedWindow(const TaskDefinition& def, TimeMs now_ms) {
  if (def.created_ms < now_ms - kMaxCreatedSkewMs || def.created_ms > now_ms + kMaxCreatedSkewMs) {
    return Status::InvalidArgument("created: " + std::to_string(def.created_ms) + " is more than " +
                                   std::to_string(kMaxCreatedSkewMs) +
                                   " ms from the queue's now (" + std::to_string(now_ms) + ")");
  }
  return Status::Ok();
}

namespace {
// What ValidateTaskDefinition checks between filling in the group and the expiry.
Status CheckGroupShapeDeadline(const TaskDefinition& def) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskId(def.task_group_id, "taskGroupId"));
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskShape(def, ""));
  if (def.deadline_ms <= def.created_ms) {
    return Status::InvalidArgument("deadline: " + std::to_string(def.deadline_ms) +
                                   " must be after created (" + std::to_string(def.created_ms) +
                                   ")");
  }
  if (def.deadline_ms - def.created_ms > kMaxDeadlineAfterCreatedMs) {
    return Status::InvalidArgument(
        "deadline: " + std::to_string(def.deadline_ms - def.created_ms) +
        " ms after created exceeds the limit of " + std::to_string(kMaxDeadlineAfterCreatedMs) +
        " ms (5 days)");
  }
  return Status::Ok();
}
Status CheckExpires(const TaskDefinition& def) {
  if (def.expires_ms < def.deadline_ms) {
    return Status::InvalidArgument("expires: " + std::to_string(def.expires_ms) +
                                   " must not be before deadline (" +
                                   std::to_string(def.deadline_ms) + ")");
  }
  return Status::Ok();
}
}  // namespace

Status ValidateTaskDefinition(TaskDefinition* def) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskId(def->task_id, "taskId"));
  if (def->task_group_id.empty()) def->task_group_id = def->task_id;
  ITHAPPENS_RETURN_IF_ERROR(CheckGroupShapeDeadline(*def));
  FillDefaults(def);  // the expiry, now that the deadline is known to be in range
  return CheckExpires(*def);
}

Status ValidateTaskDefinitionWithDefaults(const TaskDefinition& def) {
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskId(def.task_id, "taskId"));
  ITHAPPENS_RETURN_IF_ERROR(CheckGroupShapeDeadline(def));
  return CheckExpires(def);
}

Status ValidateWorker(std::string_view worker_group, std::string_view worker_id) {
  if (worker_group.empty()) return Status::InvalidArgument("workerGroup: must not be empty");
  if (worker_id.empty()) return Status::InvalidArgument("workerId: must not be empty");
  if (worker_group.size() > kMaxWorkerIdLength) {
    return TooLong("workerGroup", worker_group.size(), kMaxWorkerIdLength);
  }
  if (worker_id.size() > kMaxWorkerIdLength) {
    return TooLong("workerId", worker_id.size(), kMaxWorkerIdLength);
  }
  return Status::Ok();
}

Status ValidateHook(const HookDefinition& hook) {
  if (hook.hook_id.empty()) return Status::InvalidArgument("hookId: must not be empty");
  if (hook.hook_id.size() > kMaxWorkerIdLength) {
    return TooLong("hookId", hook.hook_id.size(), kMaxWorkerIdLength);
  }
  if (hook.key.size() > kMaxWorkerIdLength)
    return TooLong("key", hook.key.size(), kMaxWorkerIdLength);
  auto cron = CronSchedule::Parse(hook.schedule);
  if (!cron.ok()) return cron.status();
  const TaskDefinition& t = hook.task_template;
  if (!t.dependencies.empty()) {
    return Status::InvalidArgument("task.dependencies: hook tasks cannot have dependencies");
  }
  ITHAPPENS_RETURN_IF_ERROR(ValidateTaskShape(t, "task."));
  if (t.deadline_ms <= 0 || t.deadline_ms > kMaxDeadlineAfterCreatedMs) {
    return Status::InvalidArgument("task.deadline: offset " + std::to_string(t.deadline_ms) +
                                   " ms is outside 1.." +
                                   std::to_string(kMaxDeadlineAfterCreatedMs));
  }
  if (t.expires_ms != 0 && t.expires_ms < t.deadline_ms) {
    return Status::InvalidArgument("task.expires: offset must not be before task.deadline");
  }
  return Status::Ok();
}

}  // namespace ithappens::engine
