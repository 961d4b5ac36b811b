// The simulator's heap. A run builds hundreds of MB of small objects in seconds, and on a
// virtual machine every first touch of a 4 KiB page is a costly fault (16% of the
// 10^5-task simulator bench's time, issue 13), and a growing vector's blocks, mmapped by
// glibc once they pass 128 KiB, are zeroed afresh at every growth. glibc backs its heap
// with transparent huge pages and keeps large blocks and freed memory in it when its
// tunables ask for it (heap.cc has the four), but reads them only when a process starts.
// So a program that runs the simulator calls ReexecWithHugePageHeap first thing in main:
// it executes itself again, once, with the tunables set, and the new process takes them
// out of its environment again so that the processes it starts (engines, workers) see the
// environment the user gave.
//
// It does nothing when the user set GLIBC_TUNABLES (theirs win), when ITHAPPENS_HUGE_PAGES
// is 0, or when this machine's transparent huge pages are off. The heap changes speed and
// peak RSS, never a history: a seed gives the same bytes either way (tests check this).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace ithappens::harness {

// Returns only when it did not re-execute (nothing to do, or exec failed: the program runs
// as it is). `argv` is main's.
void ReexecWithHugePageHeap(char** argv);

// What this process's heap is, for the figures a bench records: "transparent huge pages
// (<the tunables>)", or "4 KiB pages" with the reason.
const std::string& HeapMode();

// This process's memory, for the figures a bench records: the resident set now and its
// peak (/proc/self/status VmRSS, VmHWM; -1 where there is no /proc). ResetPeakResident
// makes the peak the present resident set (clear_refs 5); false if the kernel did not let
// it (then measure nothing). What a run holds is then the peak's growth over the resident
// set before it, which is exact in a fresh process and too low in one whose heap kept
// memory an earlier run freed (it is reused without growing the resident set).
int64_t ResidentBytes();
int64_t PeakResidentBytes();
int64_t VirtualBytes();  // VmSize: what counts against an address-space limit
// What this process may still allocate: the machine's available memory (MemAvailable) and
// the room left under its address-space limit, whichever is less; -1 if neither is known.
int64_t MemoryLeftBytes();
bool ResetPeakResident();
// The peak resident memory `work` adds, measured in a child process (fork) that first hands
// its heap's free memory back to the system: this process's heap and timings are left as
// they were. -1 if it could not be measured.
int64_t PeakGrowthInChild(const std::function<void()>& work);

// body(fd) in a forked child, which never returns into the caller: it exits with body's
// answer (or 70 on an exception, after saying why on stderr). The caller gets everything
// the child wrote to fd and how it ended. Measurements run this way start from a fresh
// copy of the heap and leave the caller's as it was.
struct ChildRun {
  std::string error;    // why no child ran (pipe, fork); empty if one did
  int wait_status = 0;  // waitpid's
  std::string out;      // what the child wrote to its fd
  bool Succeeded() const;
  // "exited with N" or "died of signal N"
  std::string How() const;
};
ChildRun RunInChild(const std::function<int(int fd)>& body);

}  // namespace ithappens::harness
