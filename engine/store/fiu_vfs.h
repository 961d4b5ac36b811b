// A SQLite VFS shim that forwards every call to the default VFS and checks a libfiu
// failure point before opening, reading, writing, syncing and truncating (the points are
// listed in engine/fault_points.h). Every file SQLite touches (database, WAL, journal)
// goes through it, so disk faults reach the store on any file system.
#pragma once

namespace ithappens::engine {

inline constexpr const char* kFiuVfsName = "ithappens-fiu";

// Registers the VFS once (thread-safe, idempotent). Returns a SQLite result code.
int RegisterFiuVfs();

}  // namespace ithappens::engine
