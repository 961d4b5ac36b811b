// Proves the cron parser fires at the right minutes (UTC), follows Vixie cron's day rule,
// and names the field and its range when an expression is wrong.
#include "engine/cron.h"

#include <gtest/gtest.h>

namespace ithappens::engine {
namespace {

constexpr TimeMs kMin = 60'000;
constexpr TimeMs kMonday2024 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z, a Monday

TEST(Cron, EveryFiveMinutes) {
  auto c = CronSchedule::Parse("*/5 * * * *");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->NextAfter(kMonday2024), kMonday2024 + 5 * kMin);
  EXPECT_EQ(c->NextAfter(kMonday2024 + 1), kMonday2024 + 5 * kMin);
  EXPECT_EQ(c->NextAfter(kMonday2024 - 1), kMonday2024);
  EXPECT_TRUE(c->Matches(kMonday2024 + 10 * kMin));
  EXPECT_FALSE(c->Matches(kMonday2024 + 11 * kMin));
}

TEST(Cron, ListsRangesAndDays) {
  auto c = CronSchedule::Parse("30 9,17 * * 1-5");  // weekdays 09:30 and 17:30
  ASSERT_TRUE(c.ok());
  TimeMs t = c->NextAfter(kMonday2024);
  EXPECT_EQ(t, kMonday2024 + (9 * 60 + 30) * kMin);
  t = c->NextAfter(kMonday2024 + 4 * 86'400'000LL + 18 * 60 * kMin);  // Friday 18:00
  EXPECT_EQ(t, kMonday2024 + 7 * 86'400'000LL + (9 * 60 + 30) * kMin) << "skips the weekend";
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  auto c = CronSchedule::Parse("0 0 15 * 0");  // the 15th, or any Sunday
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->NextAfter(kMonday2024), kMonday2024 + 6 * 86'400'000LL) << "Sunday Jan 7";
}

TEST(Cron, RejectsBadExpressionsNamingTheField) {
  struct Case {
    const char* expr;
    const char* needle;
  } cases[] = {{"* * * *", "5"},
               {"60 * * * *", "minute field '60'"},
               {"* 24 * * *", "hour"},
               {"* * 0 * *", "day-of-month"},
               {"* * * 13 *", "month"},
               {"* * * * 8", "day-of-week"},
               {"*/0 * * * *", "step"},
               {"a * * * *", "not a number"},
               {"0 0 30 2 *", "never fires"}};
  for (const auto& k : cases) {
    auto c = CronSchedule::Parse(k.expr);
    ASSERT_FALSE(c.ok()) << k.expr;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(k.needle), std::string::npos)
        << k.expr << " -> " << c.status().message();
    EXPECT_NE(c.status().message().find("schedule"), std::string::npos);
  }
}

}  // namespace
}  // namespace ithappens::engine
