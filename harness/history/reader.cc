// The history reader: a hand-written decoder for lines in the writer's own form (fixed key
// order, no whitespace), which decodes the value's fields once, and a fallback through
// nlohmann for any other valid line (normalised to the writer's form, then decoded the same
// way). Strict: what the fast path accepts is valid JSON (escapes, surrogate pairs and
// UTF-8 are validated; a property test holds it to nlohmann's verdict); anything it cannot
// take goes to the fallback, which refuses what is not valid.
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "harness/history/history.h"
#include "harness/history/interner.h"
#include "harness/history/plain_bytes.h"

namespace ithappens::harness {

const nlohmann::json& EventView::value() const {
  if (!is_parsed_) {
    parsed_ =
        value_json.empty() ? nlohmann::json() : nlohmann::json::parse(value_json, nullptr, false);
    is_parsed_ = true;
  }
  return parsed_;
}

void EventView::Reset() {
  i = t_ns = 0;
  type = EventType::kInvoke;
  call = Call::kOther;
  proc = f = task = error = value_json = {};
  task_ix = proc_ix = recipient_ix = kNoTask;
  expect = root = task_id = state = blocked_by = key = channel = to = target = hook = {};
  digest = reason = requires_ = runs_as = priority = probe = bound = {};
  run = step = deadline_ms = duration_ms = n = -1;
  retries = taken_until_ms = claim_timeout_ms = timing_slack_ms = -1;
  has_deadline = delivered = false;
  deps.clear();
  effects.clear();
  runs.clear();
  is_parsed_ = false;
}

namespace {

// k equals the literal (a constant-length comparison, inlined).
template <size_t N>
bool Is(std::string_view k, const char (&lit)[N]) {
  return k.size() == N - 1 && SameBytes<N - 1>(k.data(), lit);
}

class Decoder {
 public:
  // Decodes one line into v, all but task_ix (Intern does that, so a batch of lines can
  // have their slots loading at once); false with *why on a line the fast path cannot
  // take. Decoded escaped strings live in a pool until NewBatch.
  bool Decode(std::string_view line, EventView* v, size_t* task_hash, size_t* recipient_hash,
              std::string* why) {
    v->Reset();
    p_ = line.data();
    end_ = line.data() + line.size();
    why_ = why;
    std::string_view type;
    if (!Lit("{\"i\":") || !Int(&v->i) || !Lit(",\"t_ns\":") || !Int(&v->t_ns) ||
        !Lit(",\"proc\":") || !Str(&v->proc) || !Lit(",\"type\":") || !Str(&type) ||
        !Lit(",\"f\":") || !Str(&v->f)) {
      return Fail("not in the writer's form");
    }
    if (!Parse(type, &v->type)) return Fail("type: unknown value '" + std::string(type) + "'");
    v->proc_ix = ProcIx(v->proc, line);
    v->call = ParseCall(v->f);
    if (Lit(",\"task\":")) {
      if (!Str(&v->task)) return Fail("task: not a string");
      if (v->task.size() > kMaxTaskIdLength) {
        return Fail("task: " + std::to_string(v->task.size()) + " characters, over the limit of " +
                    std::to_string(kMaxTaskIdLength));
      }
    }
    *task_hash = v->task.empty() ? 0 : Interner::Hash(v->task);
    if (!v->task.empty()) ids_.Prefetch(*task_hash);
    *recipient_hash = 0;
    if (Lit(",\"value\":")) {
      const char* start = p_;
      if (!Value(v)) return Fail("value: not JSON");
      v->value_json = std::string_view(start, static_cast<size_t>(p_ - start));
    }
    if (Lit(",\"error\":") && !Str(&v->error)) return Fail("error: not a string");
    if (!Lit("}") || p_ != end_) return Fail("not in the writer's form");
    if (!v->channel.empty() || !v->to.empty()) {
      *recipient_hash = Interner::Hash(RecipientKey(v->channel, v->to));
      recipients_.Prefetch(*recipient_hash);
    }
    return true;
  }
  void Intern(EventView* v, size_t task_hash, size_t recipient_hash) {
    if (!v->task.empty()) v->task_ix = ids_.Intern(v->task, task_hash);
    if (!v->channel.empty() || !v->to.empty())
      v->recipient_ix = recipients_.Intern(RecipientKey(v->channel, v->to), recipient_hash);
    for (EffectFacts& fx : v->effects)
      fx.recipient_ix = recipients_.Intern(RecipientKey(fx.channel, fx.to));
    for (RunFacts& r : v->runs) {
      if (!r.task.empty() && r.task.size() <= kMaxTaskIdLength) r.task_ix = ids_.Intern(r.task);
    }
  }
  void NewBatch() { pool_used_ = 0; }

 private:
  bool Fail(std::string why) {
    if (why_->empty()) *why_ = std::move(why);
    return false;
  }
  // A literal of known length: the comparison compiles to a few loads.
  template <size_t N>
  bool Lit(const char (&s)[N]) {
    constexpr size_t n = N - 1;
    if (static_cast<size_t>(end_ - p_) < n || !SameBytes<n>(p_, s)) return false;
    p_ += n;
    return true;
  }
  // The first byte at or after q that ends the plain run of a string: '"', '\\', a control
  // character or a non-ASCII byte (sixteen bytes at a time, then eight, then one).
  const char* PlainRun(const char* q) const {
#if defined(__SSE2__)
    // Sixteen at a time: a signed compare below 0x20 catches control and non-ASCII bytes.
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end_ - q >= 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const int stop = _mm_movemask_epi8(
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)),
                       _mm_cmplt_epi8(x, space)));
      if (stop != 0) return q + __builtin_ctz(static_cast<unsigned>(stop));
      q += 16;
    }
#endif
    while (end_ - q >= 8) {
      const uint64_t x = LoadWord(q);
      if ((QuoteSlashOrControl(x) | (x & kPlainHigh)) != 0) break;  // or non-ASCII
      q += 8;
    }
    while (q < end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20 &&
           static_cast<unsigned char>(*q) < 0x80)
      ++q;
    return q;
  }
  bool Int(int64_t* out) {
    const char* q = p_;
    bool neg = q < end_ && *q == '-';
    if (neg) ++q;
    if (q == end_ || *q < '0' || *q > '9' ||
        (*q == '0' && q + 1 < end_ && q[1] >= '0' && q[1] <= '9'))
      return false;
    uint64_t v = 0;
    for (; q < end_ && *q >= '0' && *q <= '9'; ++q) {
      if (v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + static_cast<uint64_t>(*q - '0');
    }
    if (q < end_ && (*q == '.' || *q == 'e' || *q == 'E')) return false;
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    p_ = q;
    return true;
  }
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool Hex4(const char* q, uint32_t* out) {
    if (end_ - q < 4) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int h = Hex(q[k]);
      if (h < 0) return false;
      v = v * 16 + static_cast<uint32_t>(h);
    }
    *out = v;
    return true;
  }
  // A JSON string; without escapes a view of the line, else decoded into the pool.
  bool Str(std::string_view* out) { return ScanStr(out, true); }
  // Skips a string, validating it without decoding it.
  bool SkipStr() {
    std::string_view unused;
    return ScanStr(&unused, false);
  }
  // The length of the UTF-8 sequence at q if it is well-formed (RFC 3629: no overlong
  // forms, no surrogates, at most U+10FFFF), else 0.
  size_t Utf8Length(const char* q) const {
    auto at = [&](size_t k) -> unsigned {
      return q + k < end_ ? static_cast<unsigned char>(q[k]) : 0u;
    };
    auto cont = [&](size_t k) { return (at(k) & 0xC0u) == 0x80u; };
    const unsigned c = at(0);
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      return at(1) >= lo && at(1) <= hi && cont(2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      return at(1) >= lo && at(1) <= hi && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
  }
  // Scans the string at p_, validating escapes, surrogate pairs and UTF-8. Without escapes
  // *out views the line; with them, the decoded text goes to the pool (decode) or nowhere.
  bool ScanStr(std::string_view* out, bool decode) {
    if (p_ == end_ || *p_ != '"') return false;
    const char* const start = p_ + 1;
    const char* seg = start;  // the first byte not yet copied to s
    const char* q = start;
    std::string* s = nullptr;
    for (;;) {
      q = PlainRun(q);
      if (q == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*q);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c >= 0x80) {
        const size_t n = Utf8Length(q);
        if (n == 0) return false;
        q += n;
        continue;
      }
      // An escape.
      if (decode && s == nullptr) {
        s = &Pooled();
        s->clear();
      }
      if (s) s->append(seg, q);
      if (++q == end_) return false;
      char plain = 0;
      switch (*q) {
        case '"':
          plain = '"';
          break;
        case '\\':
          plain = '\\';
          break;
        case '/':
          plain = '/';
          break;
        case 'b':
          plain = '\b';
          break;
        case 'f':
          plain = '\f';
          break;
        case 'n':
          plain = '\n';
          break;
        case 'r':
          plain = '\r';
          break;
        case 't':
          plain = '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(q + 1, &cp)) return false;
          q += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            uint32_t lo;
            if (end_ - q < 7 || q[1] != '\\' || q[2] != 'u' || !Hex4(q + 3, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
              return false;
            q += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          if (s) AppendUtf8(s, cp);
          break;
        }
        default:
          return false;
      }
      if (plain != 0 && s) s->push_back(plain);
      seg = ++q;
    }
    if (s) {
      s->append(seg, q);
      *out = *s;
    } else {
      *out = std::string_view(start, static_cast<size_t>(q - start));
    }
    p_ = q + 1;
    return true;
  }
  static void AppendUtf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  std::string& Pooled() {
    if (pool_used_ == pool_.size()) pool_.emplace_back();
    return pool_[pool_used_++];
  }
  // Skips one JSON value (validating it), depth-bounded.
  bool Skip(int depth = 0) {
    if (p_ == end_ || depth > 64) return false;
    switch (*p_) {
      case '"':
        return SkipStr();
      case '{':
        ++p_;
        if (Lit("}")) return true;
        do {
          if (!SkipStr() || !Lit(":") || !Skip(depth + 1)) return false;
        } while (Lit(","));
        return Lit("}");
      case '[':
        ++p_;
        if (Lit("]")) return true;
        do {
          if (!Skip(depth + 1)) return false;
        } while (Lit(","));
        return Lit("]");
      case 't':
        return Lit("true");
      case 'f':
        return Lit("false");
      case 'n':
        return Lit("null");
      default: {
        int64_t i;
        if (Int(&i)) return true;
        return Number();
      }
    }
  }
  // A number with a fraction or exponent (no field of ours has one, but a value may).
  bool Number() {
    const char* q = p_;
    if (q < end_ && *q == '-') ++q;
    const char* digits = q;
    while (q < end_ && *q >= '0' && *q <= '9') ++q;
    if (q == digits || (*digits == '0' && q - digits > 1)) return false;  // no leading zeros
    if (q < end_ && *q == '.') {
      const char* frac = ++q;
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
      if (q == frac) return false;
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      ++q;
      if (q < end_ && (*q == '+' || *q == '-')) ++q;
      const char* exp = q;
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
      if (q == exp) return false;
    }
    p_ = q;
    return true;
  }
  // Calls member(key) at each member's value; member consumes the value.
  template <typename F>
  bool Object(F&& member) {
    if (!Lit("{")) return false;
    if (Lit("}")) return true;
    do {
      std::string_view k;
      if (!Str(&k) || !Lit(":") || !member(k)) return false;
    } while (Lit(","));
    return Lit("}");
  }
  template <typename F>
  bool Array(F&& element) {
    if (!Lit("[")) return false;
    if (Lit("]")) return true;
    do {
      if (!element()) return false;
    } while (Lit(","));
    return Lit("]");
  }
  bool Field(std::string_view path, std::string_view k, std::string_view* out) {
    if (Str(out)) return true;
    return Fail("value." + std::string(path) + std::string(k) + ": not a string");
  }
  bool Field(std::string_view path, std::string_view k, int64_t* out) {
    if (Int(out)) return true;
    return Fail("value." + std::string(path) + std::string(k) + ": not an integer");
  }
  // The value: the fields the checkers read are decoded, the rest is skipped (validated).
  bool Value(EventView* v) {
    if (p_ == end_ || *p_ != '{') {
      if (Skip()) return true;
      return Fail("value: not JSON");
    }
    return Object([&](std::string_view k) -> bool {
      if (Is(k, "expect")) return Field("", k, &v->expect);
      if (Is(k, "root")) return Field("", k, &v->root);
      if (Is(k, "task_id")) return Field("", k, &v->task_id);
      if (Is(k, "state")) return Field("", k, &v->state);
      if (Is(k, "blocked_by")) return Field("", k, &v->blocked_by);
      if (Is(k, "key")) return Field("", k, &v->key);
      if (Is(k, "channel")) return Field("", k, &v->channel);
      if (Is(k, "to")) return Field("", k, &v->to);
      if (Is(k, "target")) return Field("", k, &v->target);
      if (Is(k, "hook")) return Field("", k, &v->hook);
      if (Is(k, "run")) return Field("", k, &v->run);
      if (Is(k, "step")) return Field("", k, &v->step);
      if (Is(k, "duration_ms")) return Field("", k, &v->duration_ms);
      if (Is(k, "n")) return Field("", k, &v->n);
      if (Is(k, "digest")) return Field("", k, &v->digest);
      if (Is(k, "reason")) return Field("", k, &v->reason);
      if (Is(k, "requires")) return Field("", k, &v->requires_);
      if (Is(k, "runs_as")) return Field("", k, &v->runs_as);
      if (Is(k, "priority")) return Field("", k, &v->priority);
      if (Is(k, "probe")) return Field("", k, &v->probe);
      if (Is(k, "bound")) return Field("", k, &v->bound);
      if (Is(k, "retries")) return Field("", k, &v->retries);
      if (Is(k, "taken_until_ms")) return Field("", k, &v->taken_until_ms);
      if (Is(k, "claim_timeout_ms")) return Field("", k, &v->claim_timeout_ms);
      if (Is(k, "timing_slack_ms")) return Field("", k, &v->timing_slack_ms);
      if (Is(k, "deadline_ms")) {
        v->has_deadline = true;
        return Field("", k, &v->deadline_ms);
      }
      if (Is(k, "delivered")) {
        v->delivered = Lit("true");
        return v->delivered || Lit("false") || Fail("value.delivered: not a boolean");
      }
      if (Is(k, "deps")) {
        v->deps.clear();  // a repeated key: the last one wins, as in nlohmann
        bool ok = Array([&] {
          std::string_view d;
          if (!Str(&d) || d.size() > kMaxTaskIdLength) return false;
          v->deps.push_back(ids_.Intern(d));
          return true;
        });
        return ok || Fail("value.deps: not a list of task ids of at most " +
                          std::to_string(kMaxTaskIdLength) + " characters");
      }
      if (Is(k, "effects")) {
        v->effects.clear();
        return Array([&] {
                 EffectFacts fx;
                 bool ok = Object([&](std::string_view ek) -> bool {
                   if (Is(ek, "step")) return Field("effects[].", ek, &fx.step);
                   if (Is(ek, "channel")) return Field("effects[].", ek, &fx.channel);
                   if (Is(ek, "to")) return Field("effects[].", ek, &fx.to);
                   return Skip();
                 });
                 v->effects.push_back(fx);
                 return ok;
               }) ||
               Fail("value.effects: not a list of objects");
      }
      if (Is(k, "runs")) {
        v->runs.clear();
        return Array([&] {
                 RunFacts r;
                 bool ok = Object([&](std::string_view rk) -> bool {
                   if (Is(rk, "task")) return Field("runs[].", rk, &r.task);
                   if (Is(rk, "state")) return Field("runs[].", rk, &r.state);
                   if (Is(rk, "reason_created")) return Field("runs[].", rk, &r.reason_created);
                   if (Is(rk, "reason_resolved")) return Field("runs[].", rk, &r.reason_resolved);
                   if (Is(rk, "worker")) return Field("runs[].", rk, &r.worker);
                   if (Is(rk, "run")) return Field("runs[].", rk, &r.run);
                   if (Is(rk, "started_ms")) return Field("runs[].", rk, &r.started_ms);
                   if (Is(rk, "resolved_ms")) return Field("runs[].", rk, &r.resolved_ms);
                   if (Is(rk, "taken_until_ms")) return Field("runs[].", rk, &r.taken_until_ms);
                   return Skip();
                 });
                 v->runs.push_back(r);
                 return ok;
               }) ||
               Fail("value.runs: not a list of objects");
      }
      return Skip() || Fail("value." + std::string(k) + ": not JSON");
    });
  }

  // (channel, to) as one unambiguous key: the channel's length, the channel, the recipient.
  std::string_view RecipientKey(std::string_view channel, std::string_view to) {
    const uint32_t n = static_cast<uint32_t>(channel.size());
    recipient_key_.assign(reinterpret_cast<const char*>(&n), sizeof n).append(channel).append(to);
    return recipient_key_;
  }

  Interner recipients_;
  std::string recipient_key_;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  std::string* why_ = nullptr;
  Interner ids_;
  // Process names, few and on every line: a direct-mapped cache in front of their interner,
  // keyed by the name's length and the eight bytes at each of its ends. A name of at most
  // 16 bytes read from the line sits between `"proc":"` and `","type":` (the fast path
  // checked both), so those loads stay in the line, and what they read beyond the name is
  // that fixed text: equal keys, equal names.
  uint32_t ProcIx(std::string_view proc, std::string_view line) {
    const char* const lo = line.data() + 8;
    const char* const hi = line.data() + line.size() - 8;
    if (proc.empty() || proc.size() > 16 || proc.data() < lo || proc.data() + proc.size() > hi)
      return procs_.Intern(proc);
    const uint64_t a = LoadWord(proc.data()), b = LoadWord(proc.data() + proc.size() - 8);
    ProcEntry& slot =
        proc_cache_[((a ^ (b * 0x9e3779b97f4a7c15ull) ^ proc.size()) * 0xbf58476d1ce4e5b9ull) >>
                    58];
    if (slot.len == proc.size() && slot.a == a && slot.b == b) return slot.ix;
    slot = ProcEntry{a, b, static_cast<uint32_t>(proc.size()), procs_.Intern(proc)};
    return slot.ix;
  }
  struct ProcEntry {
    uint64_t a = 0, b = 0;
    uint32_t len = 0, ix = kNoTask;
  };
  Interner procs_;
  std::array<ProcEntry, 64> proc_cache_{};
  std::deque<std::string> pool_;  // decoded escaped strings; a deque never moves them
  size_t pool_used_ = 0;
};

// Lines go through in batches: decode up to kBatch lines (the fast path, else normalised
// through nlohmann and the fast path on that), then intern their tasks and deliver them in
// order. The batch's views point into the caller's buffer, which must hold still until
// Flush.
class LineReader {
 public:
  static constexpr size_t kBatch = 16;
  explicit LineReader(const std::function<void(const EventView&)>& fn) : fn_(fn) {}

  bool Add(std::string_view line, std::string* error) {
    if (used_ == kBatch) Flush();
    EventView& view = views_[used_];
    Aux& aux = aux_[used_];
    std::string why;
    if (!decoder_.Decode(line, &view, &aux.task_hash, &aux.recipient_hash, &why)) {
      Event e;
      std::string bad;
      if (!EventFromJson(line, &e, &bad)) {
        *error = bad;
        return false;
      }
      aux.normal = EventToJson(e);
      why.clear();
      if (!decoder_.Decode(aux.normal, &view, &aux.task_hash, &aux.recipient_hash, &why)) {
        *error = why;
        return false;
      }
    }
    ++used_;
    return true;
  }
  void Flush() {
    for (size_t k = 0; k < used_; ++k)
      decoder_.Intern(&views_[k], aux_[k].task_hash, aux_[k].recipient_hash);
    for (size_t k = 0; k < used_; ++k) fn_(views_[k]);
    used_ = 0;
    decoder_.NewBatch();
  }

 private:
  struct Aux {
    size_t task_hash = 0, recipient_hash = 0;
    std::string normal;  // the line in the writer's form, when it came in another
  };
  const std::function<void(const EventView&)>& fn_;
  Decoder decoder_;
  std::array<EventView, kBatch> views_;
  std::array<Aux, kBatch> aux_;
  size_t used_ = 0;
};

}  // namespace

bool ReadEvents(const std::string& path, const std::function<void(const EventView&)>& fn,
                std::string* error) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    *error = path + ": cannot open";
    return false;
  }
  FILE* const file = f.get();
  int read_errno = 0;  // a failed read's: the reader must not take it for the end
  const bool ok = ReadEvents(
      [&](char* dst, size_t n) {
        const size_t got = std::fread(dst, 1, n, file);
        if (got == 0 && std::ferror(file) != 0 && read_errno == 0)
          read_errno = errno != 0 ? errno : EIO;
        return got;
      },
      path, fn, error);
  if (ok && read_errno != 0) {
    *error = path + ": reading failed: " + std::strerror(read_errno);
    return false;
  }
  return ok;
}

bool ReadEvents(const ByteSource& read, const std::string& path,
                const std::function<void(const EventView&)>& fn, std::string* error) {
  LineReader reader(fn);
  std::string buf(1 << 20, '\0');
  size_t have = 0;
  int64_t line_no = 0;
  bool eof = false;
  while (!eof || have > 0) {
    if (!eof) {
      size_t got = read(buf.data() + have, buf.size() - have);
      have += got;
      eof = got == 0;
    }
    size_t start = 0;
    for (;;) {
      const char* nl =
          static_cast<const char*>(std::memchr(buf.data() + start, '\n', have - start));
      if (nl == nullptr && !(eof && start < have)) break;
      size_t len = nl ? static_cast<size_t>(nl - (buf.data() + start)) : have - start;
      std::string_view line(buf.data() + start, len);
      start += len + (nl ? 1 : 0);
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      std::string why;
      if (!reader.Add(line, &why)) {
        reader.Flush();  // fn sees every event before the bad line
        *error = path + ":" + std::to_string(line_no) + ": " + why;
        return false;
      }
    }
    reader.Flush();                                                    // before the buffer moves
    if (start == 0 && have == buf.size()) buf.resize(buf.size() * 2);  // a line over the buffer
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
    if (eof && have == 0) break;
  }
  return true;
}

bool ReadEvents(const std::vector<Event>& events, const std::function<void(const EventView&)>& fn,
                std::string* error) {
  LineReader reader(fn);
  for (size_t k = 0; k < events.size(); ++k) {
    const std::string line = EventToJson(events[k]);
    std::string why;
    if (!reader.Add(line, &why)) {
      *error = "event " + std::to_string(k) + ": " + why;
      return false;
    }
    reader.Flush();  // the line is gone after this iteration
  }
  return true;
}

}  // namespace ithappens::harness
