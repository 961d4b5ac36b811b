// Move-only callables for the simulator's hot paths, stored inline when they fit
// (nearly every one does), else on the heap: a timer or a call's continuation costs no
// allocation of its own, and moving one is a relocation through one function pointer.
//   Callback             a timer: void(), 72 bytes inline (the largest timers the
//                        simulator sets: a worker's effect step, and a plan's create's
//                        answer on its way back, 72 bytes each; TimerLoop refuses a
//                        larger lambda at compile time)
//   InlineFunction<S, N> any signature S with N bytes inline (the calls' continuations)
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ithappens::harness {

template <typename Sig, size_t N>
class InlineFunction;

template <typename R, typename... Args, size_t N>
class InlineFunction<R(Args...), N> {
 public:
  static constexpr size_t kInlineBytes = N;
  // Captures are pointers, integers and std::strings: 8-byte alignment holds them, and a
  // 16-byte one would pad every stored function by 8 bytes. An over-aligned callable goes
  // to the heap.
  static constexpr size_t kAlign = 8;

  InlineFunction() = default;
  InlineFunction(std::nullptr_t) {}  // NOLINT: implicit, like std::function
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, InlineFunction> &&
                                        !std::is_same_v<D, std::nullptr_t>>>
  InlineFunction(F&& f) {  // NOLINT: implicit, like std::function
    if constexpr (sizeof(D) <= kInlineBytes && alignof(D) <= kAlign &&
                  std::is_nothrow_move_constructible_v<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInline<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &kHeap<D>;
    }
  }
  InlineFunction(InlineFunction&& o) noexcept { Take(o); }
  InlineFunction& operator=(InlineFunction&& o) noexcept {
    if (this != &o) {
      Reset();
      Take(o);
    }
    return *this;
  }
  InlineFunction(const InlineFunction&) = delete;
  InlineFunction& operator=(const InlineFunction&) = delete;
  ~InlineFunction() { Reset(); }

  R operator()(Args... args) { return ops_->call(buf_, std::forward<Args>(args)...); }
  explicit operator bool() const { return ops_ != nullptr; }

 private:
  struct Ops {
    R (*call)(void*, Args&&...);
    void (*relocate)(void* from, void* to);  // move-constructs at to, destroys from
    void (*destroy)(void*);
  };
  template <typename D>
  static constexpr Ops kInline = {
      [](void* p, Args&&... args) -> R {
        return (*static_cast<D*>(p))(std::forward<Args>(args)...);
      },
      [](void* from, void* to) {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
      },
      [](void* p) { static_cast<D*>(p)->~D(); }};
  template <typename D>
  static constexpr Ops kHeap = {
      [](void* p, Args&&... args) -> R {
        return (**static_cast<D**>(p))(std::forward<Args>(args)...);
      },
      [](void* from, void* to) { *static_cast<D**>(to) = *static_cast<D**>(from); },
      [](void* p) { delete *static_cast<D**>(p); }};

  void Take(InlineFunction& o) {
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

  alignas(kAlign) unsigned char buf_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

using Callback = InlineFunction<void(), 72>;

}  // namespace ithappens::harness
