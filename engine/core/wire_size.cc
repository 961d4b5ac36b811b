#include "engine/wire_size.h"

namespace ithappens::engine {
namespace {

// Protocol buffers: a field's tag is at most 2 bytes (field numbers < 2048), a length
// prefix at most 5 (a varint of a 32-bit length), an integer at most 10.
constexpr size_t kTag = 2, kLength = 5, kInteger = 10;

size_t String(size_t bytes) { return kTag + kLength + bytes; }
size_t Integer() { return kTag + kInteger; }
size_t Message(size_t body) { return kTag + kLength + body; }

size_t DefinitionBody(const TaskDefinition& d) {
  size_t n = String(d.task_id.size()) + String(d.task_group_id.size()) +
             String(ToString(d.requires_).size()) + Integer() /* retries */ +
             3 * Integer() /* created, deadline, expires */ + String(ToString(d.priority).size()) +
             String(d.payload.size());
  for (const auto& dep : d.dependencies) n += String(dep.size());
  for (const auto& r : d.routes) n += String(r.size());
  n += Message(String(d.metadata.name.size()) + String(d.metadata.description.size()) +
               String(d.metadata.owner.size()) + String(d.metadata.source.size()));
  return n;
}

size_t RunBody(const Run& r) {
  size_t n = Integer() /* run_id */ + String(ToString(r.state).size()) +
             String(ToString(r.reason_created).size()) +
             String(ToString(r.reason_resolved).size()) + 4 * Integer() /* times */;
  if (r.worker) n += String(r.worker->group.size()) + String(r.worker->id.size());
  return n;
}

}  // namespace

size_t ClaimWireSizeBound(const TaskDefinition& def) {
  return Message(Message(DefinitionBody(def)) + 2 * Integer());
}

size_t StatusWireSizeBound(const TaskStatus& s) {
  size_t n = String(s.task_id.size()) + String(s.task_group_id.size()) +
             String(ToString(s.state).size()) + 3 * Integer() +
             String(s.blocked_by ? s.blocked_by->size() : 0);
  for (const Run& r : s.runs) n += Message(RunBody(r));
  // Inside an ItemResult of a BatchResponse it is one level deeper, with a code and a
  // message beside it: the callers add those.
  return Message(n);
}

}  // namespace ithappens::engine
