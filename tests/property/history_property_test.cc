// Holds the hand-written history reader (harness/history/reader.cc) to nlohmann's verdict
// over random events and random corruptions: what the writer writes reads back field for
// field, the fast path and the fallback (the same event in another key order) agree, and a
// corrupted line is read only if it is still valid JSON.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <fstream>
#include <unordered_map>

#include "harness/history/history.h"
#include "harness/history/interner.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::harness {
namespace {

using nlohmann::json;

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// Strings with what makes JSON strings hard: quotes, backslashes, every control character,
// two-, three- and four-byte UTF-8. The code points are drawn at full size (inRange scales
// its range with the size, which would leave out most control characters).
rc::Gen<std::string> Text(int max_len = 12) {
  auto full = [](auto gen) { return rc::gen::resize(100, gen); };
  auto cp = rc::gen::oneOf(
      full(rc::gen::inRange<uint32_t>(0x20, 0x7F)),
      rc::gen::element<uint32_t>('"', '\\', '/', '\n', '\r', '\t', '\b', '\f', 0),
      full(rc::gen::inRange<uint32_t>(0, 0x20)), full(rc::gen::inRange<uint32_t>(0x80, 0xD800)),
      full(rc::gen::inRange<uint32_t>(0xE000, 0x10000)),
      full(rc::gen::inRange<uint32_t>(0x10000, 0x110000)));
  return rc::gen::mapcat(rc::gen::inRange(0, max_len + 1), [cp](int n) {
    return rc::gen::map(rc::gen::container<std::vector<uint32_t>>(static_cast<size_t>(n), cp),
                        [](const std::vector<uint32_t>& cps) {
                          std::string s;
                          for (uint32_t c : cps) s += Utf8(c);
                          return s;
                        });
  });
}

rc::Gen<json> Scalar() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool v) { return json(v); }),
      rc::gen::map(rc::gen::inRange(-1000, 1000), [](int v) { return json(v / 8.0); }),
      rc::gen::just(json()), rc::gen::map(Text(), [](std::string v) { return json(v); }));
}

// A value with the fields the reader decodes (each maybe present) and unknown ones.
rc::Gen<json> Value() {
  return rc::gen::exec([] {
    json v = json::object();
    auto maybe = [&](const char* key, auto gen) {
      if (*rc::gen::inRange(0, 3) == 0) v[key] = *gen;
    };
    for (const char* k : {"expect", "root", "task_id", "state", "blocked_by", "key", "channel",
                          "to", "target", "hook"})
      maybe(k, rc::gen::map(Text(), [](std::string s) { return json(s); }));
    for (const char* k : {"run", "step", "deadline_ms", "duration_ms", "n"})
      maybe(k, rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t n) { return json(n); }));
    maybe("delivered", rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json(b); }));
    maybe("deps",
          rc::gen::map(rc::gen::resize(4, rc::gen::container<std::vector<std::string>>(Text(6))),
                       [](std::vector<std::string> d) { return json(d); }));
    maybe("runs",
          rc::gen::map(rc::gen::resize(3, rc::gen::container<std::vector<std::string>>(Text(6))),
                       [](std::vector<std::string> states) {
                         json runs = json::array();
                         for (size_t k = 0; k < states.size(); ++k)
                           runs.push_back({{"state", states[k]},
                                           {"task", states[k]},
                                           {"started_ms", static_cast<int64_t>(k) * 7 - 3},
                                           {"extra", {{"nested", json::array({1, "x"})}}}});
                         return runs;
                       }));
    const int extra = *rc::gen::inRange(0, 3);
    for (int k = 0; k < extra; ++k) {
      json nested = json::array();
      const int n = *rc::gen::inRange(0, 3);
      for (int m = 0; m < n; ++m) nested.push_back(*Scalar());
      v["x" + *Text(4)] = *rc::gen::inRange(0, 2) ? *Scalar() : json{{"list", nested}};
    }
    return v;
  });
}

rc::Gen<Event> Events() {
  return rc::gen::exec([] {
    Event e;
    e.i = *rc::gen::arbitrary<int64_t>();
    e.t_ns = *rc::gen::arbitrary<int64_t>();
    e.proc = *Text();
    e.type = static_cast<EventType>(*rc::gen::inRange(0, 8));
    e.f = *Text();
    e.task = *Text(6);
    if (*rc::gen::inRange(0, 4)) e.value = *Value();
    e.error = *rc::gen::inRange(0, 2) ? *Text() : "";
    return e;
  });
}

std::string Render(const EventView& e) {
  json r = {{"i", e.i},
            {"t_ns", e.t_ns},
            {"type", ToString(e.type)},
            {"proc", e.proc},
            {"f", e.f},
            {"task", e.task},
            {"task_ix", e.task_ix},
            {"error", e.error},
            {"value", e.value_json.empty() ? json() : json::parse(e.value_json)}};
  for (auto [k, v] : {std::pair{"expect", e.expect},
                      {"root", e.root},
                      {"task_id", e.task_id},
                      {"state", e.state},
                      {"blocked_by", e.blocked_by},
                      {"key", e.key},
                      {"channel", e.channel},
                      {"to", e.to},
                      {"target", e.target},
                      {"hook", e.hook}})
    r[k] = v;
  r["ints"] = {e.run, e.step, e.deadline_ms, e.duration_ms, e.n, e.has_deadline, e.delivered};
  r["deps"] = e.deps;
  for (const RunFacts& run : e.runs) r["runs"].push_back({run.state, run.task, run.started_ms});
  return r.dump();
}

// Reads the lines from a file; "" and *error when the reader refuses them.
std::vector<std::string> ReadLines(const std::vector<std::string>& lines, std::string* error) {
  testing::TempDir dir;
  const auto path = dir.path() / "h.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    for (const auto& l : lines) out << l << "\n";
  }
  std::vector<std::string> got;
  if (!ReadEvents(
          path.string(), [&](const EventView& e) { got.push_back(Render(e)); }, error))
    got.clear();
  return got;
}

RC_GTEST_PROP(HistoryReader, WrittenEventsReadBackAndBothPathsAgree, ()) {
  const Event e = *Events();
  const std::string ours = EventToJson(e);
  // The same event as one JSON object in nlohmann's (sorted) key order: the fallback path.
  json j = {{"i", e.i}, {"t_ns", e.t_ns}, {"proc", e.proc}, {"type", ToString(e.type)}, {"f", e.f}};
  if (!e.task.empty()) j["task"] = e.task;
  if (!e.value.is_null()) j["value"] = e.value;
  if (!e.error.empty()) j["error"] = e.error;
  std::string error;
  auto got = ReadLines({ours, j.dump()}, &error);
  RC_ASSERT(error.empty());
  RC_ASSERT(got.size() == 2u);
  RC_ASSERT(got[0] == got[1]);
  const json r = json::parse(got[0]);  // const: a missing key must not be read with []
  RC_ASSERT(r.at("proc") == e.proc);
  RC_ASSERT(r.at("f") == e.f);
  RC_ASSERT(r.at("task") == e.task);
  RC_ASSERT(r.at("error") == e.error);
  RC_ASSERT(r.at("value") == e.value);
  for (const char* k : {"state", "to", "hook", "expect"}) {
    if (e.value.is_object() && e.value.contains(k)) RC_ASSERT(r.at(k) == e.value[k]);
  }
  if (e.value.is_object() && e.value.contains("step"))
    RC_ASSERT(r.at("ints").at(1) == e.value["step"]);
  if (e.value.is_object() && e.value.contains("runs"))
    RC_ASSERT(r.value("runs", json::array()).size() == e.value["runs"].size());
}

// The writer's string escaping (eight bytes at a time where it can) writes what nlohmann
// writes for the same text, and it reads back as that text; long strings, so the special
// character falls at every place of a word.
RC_GTEST_PROP(HistoryWriter, StringsAreEscapedAsNlohmannEscapesThem, ()) {
  const std::string text = *Text(64);
  std::string out = "x";
  AppendJsonString(&out, text);
  RC_ASSERT(out.substr(1) == json(text).dump());
  RC_ASSERT(json::parse(out.substr(1)).get<std::string>() == text);
}

RC_GTEST_PROP(HistoryReader, ACorruptedLineIsReadOnlyIfItIsStillValidJson, ()) {
  std::string line = EventToJson(*Events());
  const int edits = *rc::gen::inRange(1, 4);
  for (int k = 0; k < edits; ++k) {
    const size_t at = *rc::gen::inRange<size_t>(0, line.size());
    const char byte = static_cast<char>(
        *rc::gen::suchThat(rc::gen::inRange(0, 256), [](int b) { return b != '\n' && b != '\r'; }));
    switch (*rc::gen::inRange(0, 3)) {
      case 0:
        line[at] = byte;
        break;
      case 1:
        line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), byte);
        break;
      default:
        line.erase(at, 1);
    }
  }
  if (line.empty() || line.find_first_of("\n\r") != std::string::npos) return;
  std::string error;
  auto got = ReadLines({line}, &error);
  const json parsed = json::parse(line, nullptr, false);
  if (got.size() == 1) {
    RC_ASSERT(!parsed.is_discarded());  // read only what is valid JSON
    RC_ASSERT(parsed.is_object());
  } else {
    RC_ASSERT(error.find("h.jsonl:1: ") != std::string::npos);
  }
}

// The reader's process index (a cache keyed by a name's length and end words, in front of
// an interner) is equal exactly when the names are, over names that differ in one byte at
// either end or in the middle, short and long ones, escaped ones (read from the pool, not
// the line) and lines in another key order (the fallback); and `call` is f's code.
RC_GTEST_PROP(HistoryReader, ProcessIndicesAreEqualExactlyForEqualNames, ()) {
  // JSON string text (escapes are decoded: those names come from the reader's pool).
  const std::vector<std::string> pool = {"worker-1",  "worker-10", "worker-11", "client-1",
                                         "xorker-10", "w",         "",          "plan",
                                         "worker-10-and-then-some", "worker-10-and-then-somf",
                                         R"(a\"b)",  R"(tab\there)", R"(caf\u00e9-worker-1)",
                                         "0123456789abcdef", "0123456789abcdeF", "1123456789abcdef"};
  const auto events = *rc::gen::container<std::vector<Event>>(
      *rc::gen::inRange<size_t>(1, 200), rc::gen::exec([&] {
        Event e = *Events();
        // Or one of 300 workers: many share a length and their first eight bytes, so some
        // meet in the cache's 64 entries.
        const std::string name = *rc::gen::inRange(0, 2)
                                     ? *rc::gen::elementOf(pool)
                                     : "worker-" + std::to_string(*rc::gen::inRange(0, 300));
        e.proc = json::parse("\"" + name + "\"").get<std::string>();
        if (*rc::gen::inRange(0, 2)) e.f = std::string(ToString(static_cast<Call>(*rc::gen::inRange(0, 17))));
        return e;
      }));
  std::vector<std::string> lines;
  for (const Event& e : events) {
    if (*rc::gen::inRange(0, 4)) {
      lines.push_back(EventToJson(e));
    } else {  // another key order: the fallback normalises it
      json j = {{"f", e.f}, {"i", e.i}, {"proc", e.proc}, {"t_ns", e.t_ns}, {"type", ToString(e.type)}};
      if (!e.task.empty()) j["task"] = e.task;
      lines.push_back(j.dump());
    }
  }
  testing::TempDir dir;
  const auto path = dir.path() / "h.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    for (const auto& l : lines) out << l << "\n";
  }
  std::vector<std::pair<std::string, uint32_t>> got;
  std::string error;
  RC_ASSERT(ReadEvents(
      path.string(),
      [&](const EventView& e) {
        RC_ASSERT(e.call == ParseCall(e.f));
        got.emplace_back(std::string(e.proc), e.proc_ix);
      },
      &error));
  RC_ASSERT(got.size() == events.size());
  for (size_t a = 0; a < got.size(); ++a) {
    RC_ASSERT(got[a].first == events[a].proc);
    for (size_t b = 0; b < a; ++b)
      RC_ASSERT((got[a].second == got[b].second) == (got[a].first == got[b].first));
  }
}

// The interner against a map: equal names get one index, distinct names distinct ones,
// dense in order of first appearance. Names of every length around the word size and the
// inline limit (23), over a two-letter alphabet so that many differ in one byte only,
// anywhere (the hash and the comparison go a word at a time, the tail overlapping).
RC_GTEST_PROP(Interner, IndicesAreDenseAndEqualExactlyForEqualNames, ()) {
  const auto name = rc::gen::mapcat(rc::gen::inRange<size_t>(0, 41), [](size_t n) {
    return rc::gen::container<std::string>(n, rc::gen::element('a', 'b'));
  });
  const auto names =
      *rc::gen::container<std::vector<std::string>>(*rc::gen::inRange<size_t>(1, 300), name);
  Interner interner;
  std::unordered_map<std::string, uint32_t> want;
  for (const std::string& n : names) {
    const uint32_t expected = want.emplace(n, static_cast<uint32_t>(want.size())).first->second;
    RC_ASSERT(interner.Intern(n) == expected);
  }
  RC_ASSERT(interner.size() == want.size());
}

// The interner's comparison (a hash collision is what would reach it, too rare to test
// through Intern): equal exactly when the texts are, at every length and every place of
// the one byte that differs.
RC_GTEST_PROP(Interner, SameIsEqualityOfTexts, ()) {
  const size_t n = *rc::gen::inRange<size_t>(0, 41);
  const std::string a = *rc::gen::container<std::string>(n, rc::gen::element('a', 'b'));
  std::string b = a;
  if (n > 0 && *rc::gen::arbitrary<bool>()) b[*rc::gen::inRange<size_t>(0, n)] ^= 3;
  if (*rc::gen::arbitrary<bool>()) b.push_back('a');
  RC_ASSERT(Interner::Same(a, b) == (a == b));
}

// Every call name the reader codes reads back as its code; another f is kOther (and a
// report's name of another kind is still a report).
TEST(HistoryReader, CallNamesDecodeToTheirCodesAndOthersToOther) {
  for (int c = 1; c <= static_cast<int>(Call::kDeliver); ++c) {
    const Call call = static_cast<Call>(c);
    ASSERT_FALSE(ToString(call).empty());
    EXPECT_EQ(ParseCall(ToString(call)), call) << ToString(call);
  }
  for (const char* other :
       {"", "creat", "createe", "Create", "report-", "report-later", "partition-start", "claim "})
    EXPECT_EQ(ParseCall(other), Call::kOther) << other;
  EXPECT_TRUE(IsReport(Call::kReportFailed, "report-failed"));
  EXPECT_TRUE(IsReport(Call::kOther, "report-later"));
  EXPECT_FALSE(IsReport(Call::kCreate, "create"));
  EXPECT_FALSE(IsReport(Call::kOther, "reports"));
}

}  // namespace
}  // namespace ithappens::harness
