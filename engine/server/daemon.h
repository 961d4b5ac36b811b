// What the engine, worker and sink processes share: a logger writing to the run directory
// (or stderr), the port file a supervisor reads, and an orderly wait for SIGTERM/SIGINT.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "engine/status.h"

namespace ithappens::daemon {

// Logs to `path` (appending, flushed per line) or to stderr when path is empty.
std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name, const std::string& path);
// Installs a process-wide SIGTERM/SIGINT handler that writes the signal number to a
// self-pipe. A handler (not sigwait) because libraries start threads before main runs and
// the kernel may deliver the signal to any of them. Call first thing in main.
void InstallTerminationHandler();
// Returns the signal number once SIGTERM or SIGINT arrives.
int WaitForTerminationSignal();
// Resident set size of this process, from /proc/self/statm (0 if unreadable).
int64_t RssBytes();
// Allocates and touches `bytes` that are never freed: a deliberate leak for the leak
// scenarios (worker and sink). Thread-safe.
void Leak(int64_t bytes);

// A failed allocation (RLIMIT_AS reached, where no memory cgroup limits the process)
// aborts the process with a line on stderr, instead of an exception that a gRPC handler
// may swallow and leave the process up but broken. Call first thing in main.
void InstallOutOfMemoryAbort();

// The leak switch of real mode's worker-leak and sink-leak faults: SIGUSR1 turns it on,
// SIGUSR2 off (a handler storing to a lock-free atomic). Off until the first SIGUSR1.
void InstallLeakSwitch();
bool LeakSwitchOn();

// A record file a process appends lines to (a worker's op log, the sink's deliveries):
// a SIGKILL can cut its last line short (the kernel stops a write between pages), and the
// next process's first line would be glued to it. Before appending again, the torn tail
// (the bytes after the last newline) is cut off; its record was never complete. Answers
// how many bytes were cut (0: none, or no file yet).
engine::Result<int64_t> CutTornTail(const std::string& path);

// Writes the port atomically (temp file + rename) so a reader never sees half a number.
engine::Status WritePortFile(const std::string& path, int port);

}  // namespace ithappens::daemon
