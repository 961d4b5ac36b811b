#include "harness/history/byte_channel.h"

#include <algorithm>
#include <cstring>

namespace ithappens::harness {

void ByteChannel::Write(std::string chunk) {
  if (chunk.empty()) return;
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return queued_ < limit_ || abandoned_ || closed_; });
  if (abandoned_ || closed_) return;
  queued_ += chunk.size();
  chunks_.push_back(std::move(chunk));
  changed_.notify_all();
}

void ByteChannel::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

size_t ByteChannel::Read(char* dst, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return !chunks_.empty() || closed_ || abandoned_; });
  size_t got = 0;
  while (got < n && !chunks_.empty()) {
    const std::string& front = chunks_.front();
    const size_t take = std::min(n - got, front.size() - front_used_);
    std::memcpy(dst + got, front.data() + front_used_, take);
    got += take;
    front_used_ += take;
    if (front_used_ == front.size()) {
      chunks_.pop_front();
      front_used_ = 0;
    }
  }
  queued_ -= got;
  if (got > 0) changed_.notify_all();
  return got;
}

void ByteChannel::Abandon() {
  std::lock_guard<std::mutex> lock(mu_);
  abandoned_ = true;
  chunks_.clear();
  front_used_ = 0;
  queued_ = 0;
  changed_.notify_all();
}

}  // namespace ithappens::harness
