#include "engine/store/codec.h"

#include <nlohmann/json.hpp>

namespace ithappens::engine {
namespace {
using nlohmann::json;

json ToJson(const TaskDefinition& d) {
  return json{{"taskId", d.task_id},
              {"taskGroupId", d.task_group_id},
              {"dependencies", d.dependencies},
              {"requires", std::string(ToString(d.requires_))},
              {"retries", d.retries},
              {"created", d.created_ms},
              {"deadline", d.deadline_ms},
              {"expires", d.expires_ms},
              {"priority", std::string(ToString(d.priority))},
              {"routes", d.routes},
              {"payload", d.payload},
              {"metadata",
               {{"name", d.metadata.name},
                {"description", d.metadata.description.view()},
                {"owner", d.metadata.owner.view()},
                {"source", d.metadata.source.view()}}}};
}

template <typename E>
void ParseEnum(const json& j, const char* field, E* out) {
  std::string s = j.at(field).get<std::string>();
  if (!Parse(s, out))
    throw std::invalid_argument(std::string(field) + ": unknown value '" + s + "'");
}

TaskDefinition FromJson(const json& j) {
  TaskDefinition d;
  d.task_id = j.at("taskId").get<std::string>();
  d.task_group_id = j.at("taskGroupId").get<std::string>();
  d.dependencies = j.at("dependencies").get<std::vector<std::string>>();
  ParseEnum(j, "requires", &d.requires_);
  d.retries = j.at("retries").get<int>();
  d.created_ms = j.at("created").get<TimeMs>();
  d.deadline_ms = j.at("deadline").get<TimeMs>();
  d.expires_ms = j.at("expires").get<TimeMs>();
  ParseEnum(j, "priority", &d.priority);
  d.routes = j.at("routes").get<std::vector<std::string>>();
  d.payload = j.at("payload").get<std::string>();
  const json& m = j.at("metadata");
  d.metadata.name = m.at("name").get<std::string>();
  d.metadata.description = m.at("description").get<std::string>();
  d.metadata.owner = m.at("owner").get<std::string>();
  d.metadata.source = m.at("source").get<std::string>();
  return d;
}

}  // namespace

std::string EncodeTaskDefinition(const TaskDefinition& def) { return ToJson(def).dump(); }

Result<TaskDefinition> DecodeTaskDefinition(std::string_view text) {
  try {
    return FromJson(json::parse(text));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("task definition JSON: ") + e.what());
  }
}

std::string EncodeHookDefinition(const HookDefinition& h) {
  return json{{"hookId", h.hook_id},
              {"schedule", h.schedule},
              {"key", h.key},
              {"task", ToJson(h.task_template)}}
      .dump();
}

Result<HookDefinition> DecodeHookDefinition(std::string_view text) {
  try {
    json j = json::parse(text);
    HookDefinition h;
    h.hook_id = j.at("hookId").get<std::string>();
    h.schedule = j.at("schedule").get<std::string>();
    h.key = j.at("key").get<std::string>();
    h.task_template = FromJson(j.at("task"));
    return h;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("hook definition JSON: ") + e.what());
  }
}

}  // namespace ithappens::engine
