// A move-only void() callable for the simulator's timers, stored inline when it fits
// kInlineBytes (nearly every timer does), else on the heap: a timer costs no allocation
// of its own, and moving one is a relocation through one function pointer.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ithappens::harness {

class Callback {
 public:
  static constexpr size_t kInlineBytes = 112;

  Callback() = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, Callback>>>
  Callback(F&& f) {  // NOLINT: implicit, like std::function
    if constexpr (sizeof(D) <= kInlineBytes && alignof(D) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInline<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &kHeap<D>;
    }
  }
  Callback(Callback&& o) noexcept { Take(o); }
  Callback& operator=(Callback&& o) noexcept {
    if (this != &o) {
      Reset();
      Take(o);
    }
    return *this;
  }
  Callback(const Callback&) = delete;
  Callback& operator=(const Callback&) = delete;
  ~Callback() { Reset(); }

  void operator()() { ops_->call(buf_); }
  explicit operator bool() const { return ops_ != nullptr; }

 private:
  struct Ops {
    void (*call)(void*);
    void (*relocate)(void* from, void* to);  // move-constructs at to, destroys from
    void (*destroy)(void*);
  };
  template <typename D>
  static constexpr Ops kInline = {[](void* p) { (*static_cast<D*>(p))(); },
                                  [](void* from, void* to) {
                                    ::new (to) D(std::move(*static_cast<D*>(from)));
                                    static_cast<D*>(from)->~D();
                                  },
                                  [](void* p) { static_cast<D*>(p)->~D(); }};
  template <typename D>
  static constexpr Ops kHeap = {
      [](void* p) { (**static_cast<D**>(p))(); },
      [](void* from, void* to) { *static_cast<D**>(to) = *static_cast<D**>(from); },
      [](void* p) { delete *static_cast<D**>(p); }};

  void Take(Callback& o) {
    if (o.ops_ == nullptr) return;
    o.ops_->relocate(o.buf_, buf_);
    ops_ = o.ops_;
    o.ops_ = nullptr;
  }
  void Reset() {
    if (ops_ == nullptr) return;
    ops_->destroy(buf_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char buf_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace ithappens::harness
