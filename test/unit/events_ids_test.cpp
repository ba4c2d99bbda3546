// Unit tests of events/ids.hpp: UUIDs, RFC 3339 times, W3C traceparent.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "events/ids.hpp"

namespace ev = orderflow::events;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kNoonMillis = 1795262400000;  // 2026-11-21T12:00:00Z
const std::string kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

int64_t Millis(std::string_view text) {
    const auto t = ev::ParseTime(text);
    REQUIRE(t.has_value());
    return ev::ToUnixMillis(*t);
}

}  // namespace

TEST_CASE("NewUuid makes distinct, increasing, lower-case version-7 RFC 9562 UUIDs") {
    const auto before = ev::ToUnixMillis(std::chrono::system_clock::now());
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 20000; ++i) {  // many per millisecond: the counter must carry over
        const std::string id = ev::NewUuid();
        REQUIRE(ev::IsUuid(id));
        REQUIRE(id[14] == '7');
        REQUIRE(std::string("89ab").find(id[19]) != std::string::npos);
        REQUIRE(id.find_first_of("ABCDEF") == std::string::npos);
        REQUIRE(id > previous);  // time-ordered, as the B-trees keyed by ids want
        previous = id;
        seen.insert(id);
    }
    CHECK(seen.size() == 20000);
    // The first 48 bits are the Unix time in milliseconds.
    const auto first = ev::NewUuid();
    const auto ms = std::stoll(first.substr(0, 8) + first.substr(9, 4), nullptr, 16);
    CHECK(ms >= before);
    CHECK(ms <= ev::ToUnixMillis(std::chrono::system_clock::now()) + 100);
}

TEST_CASE("IsUuid accepts 8-4-4-4-12 hex in either case and nothing else") {
    CHECK(ev::IsUuid("0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e"));
    CHECK(ev::IsUuid("0B6F3C58-5C1E-4C7A-9D3E-1F2A3B4C5D6E"));
    CHECK_FALSE(ev::IsUuid(""));
    CHECK_FALSE(ev::IsUuid("0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6"));    // short
    CHECK_FALSE(ev::IsUuid("0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e0"));  // long
    CHECK_FALSE(ev::IsUuid("0b6f3c585-c1e-4c7a-9d3e-1f2a3b4c5d6e"));   // dash moved
    CHECK_FALSE(ev::IsUuid("0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6g"));   // not hex
    CHECK_FALSE(ev::IsUuid("{b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e}"));
    CHECK_FALSE(ev::IsUuid("../../../../../../../../../etc/passwd"));
}

TEST_CASE("FormatTime writes UTC with exactly three fraction digits, truncating") {
    CHECK(ev::FormatTime(ev::FromUnixMillis(kNoonMillis)) == "2026-11-21T12:00:00.000Z");
    CHECK(ev::FormatTime(ev::FromUnixMillis(kNoonMillis + 7)) == "2026-11-21T12:00:00.007Z");
    CHECK(ev::FormatTime(ev::FromUnixMillis(kNoonMillis) + 999999us) == "2026-11-21T12:00:00.999Z");
    CHECK(ev::FormatTime(ev::FromUnixMillis(0)) == "1970-01-01T00:00:00.000Z");
    CHECK(ev::FormatTime(ev::FromUnixMillis(-1)) == "1969-12-31T23:59:59.999Z");
    CHECK(ev::FormatTime(ev::FromUnixMillis(951782400000)) == "2000-02-29T00:00:00.000Z");
}

TEST_CASE("FormatMinute writes the analytics minute bucket") {
    CHECK(ev::FormatMinute(ev::FromUnixMillis(kNoonMillis + 59999)) == "2026-11-21T12:00Z");
    CHECK(ev::FormatMinute(ev::FromUnixMillis(kNoonMillis + 60000)) == "2026-11-21T12:01Z");
}

TEST_CASE("ParseTime reads RFC 3339 with Z or offsets and any fraction length") {
    CHECK(Millis("2026-11-21T12:00:00.000Z") == kNoonMillis);
    CHECK(Millis("2026-11-21T12:00:00Z") == kNoonMillis);
    CHECK(Millis("2026-11-21T12:00:00.5Z") == kNoonMillis + 500);
    CHECK(Millis("2026-11-21T12:00:00.123456789123Z") == kNoonMillis + 123);
    CHECK(Millis("2026-11-21T13:30:00.000+01:30") == kNoonMillis);
    CHECK(Millis("2026-11-21T07:00:00-05:00") == kNoonMillis);
    CHECK(Millis("2026-11-21t12:00:00z") == kNoonMillis);
    CHECK(Millis("2026-11-21 12:00:00Z") == kNoonMillis);
    const auto nanos = ev::ParseTime("2026-11-21T12:00:00.000000001Z");
    REQUIRE(nanos.has_value());
    CHECK((*nanos - ev::FromUnixMillis(kNoonMillis)) == 1ns);
}

TEST_CASE("ParseTime reads the minute form, a plain date, and a zone-less time as UTC") {
    CHECK(Millis("2026-11-21T12:00Z") == kNoonMillis);
    CHECK(Millis("2026-11-21T13:00+01:00") == kNoonMillis);
    CHECK(Millis("2026-11-21") == kNoonMillis - 12 * 3600 * 1000);
    CHECK(Millis("2026-11-21T12:00:00") == kNoonMillis);
    CHECK(Millis("2024-02-29T00:00:00Z") == 1709164800000);
    CHECK(Millis("2016-12-31T23:59:60Z") == 1483228800000);  // leap second
}

TEST_CASE("ParseTime rejects malformed, impossible and unrepresentable times") {
    for (const char* bad : {"",
                            "yesterday",
                            "2026-11-21T",
                            "2026-11-21T12",
                            "2026-11-21T12:00:00.Z",
                            "2026-11-21T12:00:00+0100",
                            "2026-11-21T12:00:00+01",
                            "2026-11-21T12:00:00Z ",
                            " 2026-11-21",
                            "2026-11-21T12:00:00ZZ",
                            "2026-02-29",
                            "2026-13-01",
                            "2026-00-10",
                            "2026-11-31",
                            "2026-11-21T24:00:00Z",
                            "2026-11-21T12:60:00Z",
                            "2026-11-21T12:00:61Z",
                            "2026-11-21T12:00:00+24:00",
                            "2026-11-21T12:00:00+01:60",
                            "+2026-11-21",
                            "2026-1-21",
                            "9999-12-31T23:59:59Z",
                            "0001-01-01",
                            "2026-11-21T12:00:00.000Z\n"}) {
        INFO(bad);
        CHECK_FALSE(ev::ParseTime(bad).has_value());
    }
    using namespace std::string_literals;
    CHECK_FALSE(ev::ParseTime("2026-11-21T12:00:00Z\0"s).has_value());
}

TEST_CASE("FormatTime and ParseTime round trip") {
    for (const int64_t ms :
         {kNoonMillis, int64_t{0}, int64_t{1}, int64_t{-86400001}, int64_t{253402300799000} / 40}) {
        CHECK(Millis(ev::FormatTime(ev::FromUnixMillis(ms))) == ms);
    }
}

TEST_CASE("FromUnixMillis clamps instead of overflowing the nanosecond clock") {
    const auto high = ev::FromUnixMillis(std::numeric_limits<int64_t>::max());
    const auto low = ev::FromUnixMillis(std::numeric_limits<int64_t>::min());
    CHECK(low < ev::FromUnixMillis(0));
    CHECK(high > ev::FromUnixMillis(0));
    CHECK(ev::FormatTime(high).starts_with("2262-"));
    CHECK(ev::ToUnixMillis(ev::FromUnixMillis(kNoonMillis)) == kNoonMillis);
}

TEST_CASE("SystemClock tells the current time") {
    const auto clock = ev::SystemClock();
    const auto delta = clock() - std::chrono::system_clock::now();
    CHECK(std::chrono::abs(delta) < 1min);
}

TEST_CASE("a W3C traceparent parses and formats back unchanged") {
    const auto ctx = ev::ParseTraceparent(kTraceparent);
    REQUIRE(ctx.has_value());
    CHECK(ctx->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(ctx->parent_id == "00f067aa0ba902b7");
    CHECK(ctx->flags == 1);
    CHECK(ev::FormatTraceparent(*ctx) == kTraceparent);
    const auto unsampled =
        ev::ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    REQUIRE(unsampled.has_value());
    CHECK(unsampled->flags == 0);
    CHECK(ev::ParseTraceparent("  " + kTraceparent + "\t").has_value());
}

TEST_CASE("invalid traceparents are rejected") {
    const std::string t = kTraceparent;
    for (const std::string& bad : std::vector<std::string>{
             "", t.substr(0, 54), t + "-",
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper-case trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",  // upper-case parent id
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent id
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
             "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
             "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // future version, no dash
         }) {
        INFO(bad);
        CHECK_FALSE(ev::ParseTraceparent(bad).has_value());
    }
}

TEST_CASE("a future traceparent version is read as far as version 00 goes") {
    const auto ctx = ev::ParseTraceparent(
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future");
    REQUIRE(ctx.has_value());
    CHECK(ctx->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(ev::FormatTraceparent(*ctx) == kTraceparent);  // we speak version 00 onwards
}

TEST_CASE("NewTrace starts a sampled trace and ChildSpan keeps its trace id with a new span") {
    const auto root = ev::NewTrace();
    const auto parsed = ev::ParseTraceparent(ev::FormatTraceparent(root));
    REQUIRE(parsed.has_value());
    CHECK(parsed->trace_id == root.trace_id);
    CHECK(root.trace_id.size() == 32);
    CHECK(root.parent_id.size() == 16);
    CHECK(root.flags == 1);
    CHECK(ev::NewTrace().trace_id != root.trace_id);

    auto unsampled = root;
    unsampled.flags = 0;
    const auto child = ev::ChildSpan(unsampled);
    CHECK(child.trace_id == root.trace_id);
    CHECK(child.parent_id != root.parent_id);
    CHECK(child.flags == 0);
    CHECK(ev::ParseTraceparent(ev::FormatTraceparent(child)).has_value());
}
