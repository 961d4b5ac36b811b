// The libfiu failure points of the engine's store. Both stores check them: SqliteStore in
// its SQLite VFS shim (every file SQLite touches), MemoryStore at its write and sync steps.
// Enable them in-process (fiu_enable*), remotely (fiu-ctrl on a process started with
// --fiu-fifo), or from a seeded callback (fiu_enable_external) in the simulator.
#pragma once

#include <array>
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
// point; Queue and the stores work without it, with every point off.
void InitFaultPoints();

}  // namespace ithappens::engine
