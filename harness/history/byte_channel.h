// Bytes from one thread to another, in order: a simulated run's history goes to its file
// and, through one of these, to a reader on another thread, so that the checkers and the
// report's series judge the history while it is being written (`ithappens run`; the
// file's bytes and the channel's are the same lines in the same order).
//
// At most `limit` bytes wait in it: a writer that gets that far ahead waits for the reader
// (memory stays bounded whatever the speeds). A reader that stops early (a line it cannot
// read) abandons the channel, and what is written afterwards is dropped, so the writer never
// waits for a reader that is gone. Close is the end of the data; both are idempotent.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

namespace ithappens::harness {

class ByteChannel {
 public:
  explicit ByteChannel(size_t limit = size_t{16} << 20) : limit_(limit) {}
  ByteChannel(const ByteChannel&) = delete;
  ByteChannel& operator=(const ByteChannel&) = delete;

  // Queues chunk (waits while `limit` bytes or more are queued and the reader is there).
  void Write(std::string chunk);
  // No more writes: the reader gets what is queued, then the end.
  void Close();
  // Up to n bytes into dst, waiting until there are some or the channel is closed; 0 only
  // at the end.
  size_t Read(char* dst, size_t n);
  // The reader is gone: drops what is queued and what comes.
  void Abandon();

 private:
  const size_t limit_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  size_t front_used_ = 0;  // bytes of chunks_.front() already read
  size_t queued_ = 0;      // bytes queued and not yet read
  bool closed_ = false, abandoned_ = false;
};

}  // namespace ithappens::harness
