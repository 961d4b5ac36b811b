// Conversions between the engine's structs and the wire messages of queue.proto. Enum
// strings are validated here: an unknown value is INVALID_ARGUMENT naming the field.
#pragma once

#include <grpcpp/support/status.h>

#include "engine/proto/queue.pb.h"
#include "engine/status.h"
#include "engine/task.h"

namespace ithappens::rpc {

using engine::Status;

Status FromProto(const v1::TaskDefinition& in, engine::TaskDefinition* out,
                 std::string_view field_prefix = "");
void ToProto(const engine::TaskDefinition& in, v1::TaskDefinition* out);
void ToProto(const engine::TaskStatus& in, v1::TaskStatus* out);
Status FromProto(const v1::TaskStatus& in, engine::TaskStatus* out);
Status FromProto(const v1::HookDefinition& in, engine::HookDefinition* out);
void ToProto(const engine::HookDefinition& in, v1::HookDefinition* out);

// Engine status codes are gRPC's numbers, so these are one-to-one.
grpc::Status ToGrpc(const Status& s);
Status FromGrpc(const grpc::Status& s);

}  // namespace ithappens::rpc
