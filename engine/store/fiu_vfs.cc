#include "engine/store/fiu_vfs.h"

#include <fiu-local.h>
#include <sqlite3.h>

#include <atomic>
#include <mutex>

#include "engine/fault_points.h"

namespace ithappens::engine {
namespace {

sqlite3_vfs* g_root = nullptr;
sqlite3_vfs g_vfs;

struct FiuFile {
  sqlite3_file base;
  sqlite3_file* real;  // lives right after this struct, in the same allocation
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FiuFile*>(f)->real; }

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  if (FaultPointFires(kFaultStoreRead)) return SQLITE_IOERR_READ;
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (FaultPointFires(kFaultStoreWrite)) return SQLITE_IOERR_WRITE;
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (FaultPointFires(kFaultStoreTruncate)) return SQLITE_IOERR_TRUNCATE;
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  if (FaultPointFires(kFaultStoreFsync)) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), off, amt, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

// Version 3 methods; Open lowers iVersion to what the real file supports.
sqlite3_io_methods MakeMethods(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = Close;
  m.xRead = Read;
  m.xWrite = Write;
  m.xTruncate = Truncate;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  if (version >= 2) {
    m.xShmMap = ShmMap;
    m.xShmLock = ShmLock;
    m.xShmBarrier = ShmBarrier;
    m.xShmUnmap = ShmUnmap;
  }
  if (version >= 3) {
    m.xFetch = Fetch;
    m.xUnfetch = Unfetch;
  }
  return m;
}
const sqlite3_io_methods kMethodsV1 = MakeMethods(1);
const sqlite3_io_methods kMethodsV2 = MakeMethods(2);
const sqlite3_io_methods kMethodsV3 = MakeMethods(3);

int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* file = reinterpret_cast<FiuFile*>(f);
  file->base.pMethods = nullptr;
  if (FaultPointFires(kFaultStoreOpen)) return SQLITE_CANTOPEN;
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  int rc = g_root->xOpen(g_root, name, file->real, flags, out_flags);
  if (file->real->pMethods == nullptr) return rc;
  int v = file->real->pMethods->iVersion;
  file->base.pMethods = v >= 3 ? &kMethodsV3 : v == 2 ? &kMethodsV2 : &kMethodsV1;
  return rc;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_root->xDelete(g_root, name, sync_dir);
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_root->xAccess(g_root, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_root->xFullPathname(g_root, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_root->xDlOpen(g_root, name); }
void DlError(sqlite3_vfs*, int n, char* msg) { g_root->xDlError(g_root, n, msg); }
void (*DlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return g_root->xDlSym(g_root, h, sym);
}
void DlClose(sqlite3_vfs*, void* h) { g_root->xDlClose(g_root, h); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_root->xRandomness(g_root, n, out); }
int Sleep(sqlite3_vfs*, int us) { return g_root->xSleep(g_root, us); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_root->xCurrentTime(g_root, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) { return g_root->xGetLastError(g_root, n, out); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_root->xCurrentTimeInt64(g_root, out);
}

}  // namespace

namespace {
std::atomic<bool> g_fiu_initialized{false};
std::atomic<int64_t> g_fault_fires{0};
}  // namespace

void InitFaultPoints() {
  static std::once_flag once;
  std::call_once(once, [] {
    fiu_init(0);
    g_fiu_initialized.store(true, std::memory_order_release);
  });
}

bool FaultPointFires(const char* name) {
  if (!g_fiu_initialized.load(std::memory_order_acquire) || fiu_fail(name) == 0) return false;
  g_fault_fires.fetch_add(1, std::memory_order_relaxed);
  return true;
}

int64_t FaultPointFireCount() { return g_fault_fires.load(std::memory_order_relaxed); }

int RegisterFiuVfs() {
  static std::once_flag once;
  static int result = SQLITE_OK;
  std::call_once(once, [] {
    g_root = sqlite3_vfs_find(nullptr);
    if (g_root == nullptr) {
      result = SQLITE_ERROR;
      return;
    }
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(FiuFile)) + g_root->szOsFile;
    g_vfs.mxPathname = g_root->mxPathname;
    g_vfs.zName = kFiuVfsName;
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    result = sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
  });
  return result;
}

}  // namespace ithappens::engine
