// The libfiu failure points of the engine's store. Both stores check them: SqliteStore in
// its SQLite VFS shim (every file SQLite touches), MemoryStore at its write and sync steps.
// Enable them in-process (fiu_enable*), remotely (fiu-ctrl on a process started with
// --fiu-fifo), or from a seeded callback (fiu_enable_external) in the simulator.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ithappens::engine {

inline constexpr const char* kFaultStoreOpen = "engine/store/open";          // xOpen: CANTOPEN
inline constexpr const char* kFaultStoreRead = "engine/store/read";          // xRead: IOERR_READ
inline constexpr const char* kFaultStoreWrite = "engine/store/write";        // xWrite: IOERR_WRITE
inline constexpr const char* kFaultStoreFsync = "engine/store/fsync";        // xSync: IOERR_FSYNC
inline constexpr const char* kFaultStoreTruncate = "engine/store/truncate";  // xTruncate

inline constexpr std::array<std::string_view, 5> kStoreFaultPoints = {
    kFaultStoreOpen, kFaultStoreRead, kFaultStoreWrite, kFaultStoreFsync, kFaultStoreTruncate};

// Initializes libfiu once per process (thread-safe, idempotent). Call it before enabling a
// point. Until it is called the stores do not consult libfiu at all (every point is off and
// a check costs one relaxed load instead of libfiu's lock and lookup), which keeps the
// fault-free simulator fast.
void InitFaultPoints();

// True if fault point `name` fires now: InitFaultPoints() was called and libfiu says so.
bool FaultPointFires(const char* name);
// How many times a point fired in this process (the proof a disk fault happened; real
// mode reads it from the engine's Health).
int64_t FaultPointFireCount();

}  // namespace ithappens::engine
