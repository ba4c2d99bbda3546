// UUIDs, RFC 3339 times and W3C traceparent headers: everything on the wire that is an id or a
// time. Parsers take untrusted text and answer nullopt/false instead of throwing.
#include "events/ids.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <random>

namespace orderflow::events {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// One generator per thread: no lock on the hot path, and each is seeded from the OS so ids
// from different processes or threads do not collide.
std::mt19937_64& Random() {
    thread_local std::mt19937_64 generator = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device(),
                           device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    return generator;
}

bool IsHex(char c, bool allow_upper) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (allow_upper && c >= 'A' && c <= 'F');
}

int HexDigit(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }  // lower-case hex only

// W3C trace context ids are lower-case hex and must not be all zeros.
bool IsTraceId(std::string_view text) {
    bool nonzero = false;
    for (const char c : text) {
        if (!IsHex(c, false)) return false;
        nonzero = nonzero || c != '0';
    }
    return nonzero;
}

std::string NonZeroHex(std::size_t words) {
    std::string out;
    do {
        out.clear();
        for (std::size_t i = 0; i < words; ++i) out += fmt::format("{:016x}", Random()());
    } while (out.find_first_not_of('0') == std::string::npos);
    return out;
}

std::tm UtcFields(seconds since_epoch) {
    const std::time_t t = static_cast<std::time_t>(since_epoch.count());
    std::tm fields{};
    gmtime_r(&t, &fields);  // thread-safe and independent of the locale and TZ
    return fields;
}

// Reads the fixed-width, all-digit fields of an ISO 8601 time, left to right.
class Scanner final {
  public:
    explicit Scanner(std::string_view text) : text_(text) {}

    bool AtEnd() const { return pos_ == text_.size(); }
    char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
    bool Eat(char c) {
        if (Peek() != c) return false;
        ++pos_;
        return true;
    }
    bool Number(int width, int& out) {
        if (text_.size() - pos_ < static_cast<std::size_t>(width)) return false;
        out = 0;
        for (int i = 0; i < width; ++i) {
            const char c = text_[pos_++];
            if (c < '0' || c > '9') return false;
            out = out * 10 + (c - '0');
        }
        return true;
    }
    // Any number of fraction digits; the first nine (nanoseconds) count, the rest are read over.
    bool Fraction(int64_t& nanos) {
        nanos = 0;
        int digits = 0;
        while (Peek() >= '0' && Peek() <= '9') {
            if (digits < 9) nanos = nanos * 10 + (text_[pos_] - '0');
            ++digits;
            ++pos_;
        }
        for (int i = digits; i < 9; ++i) nanos *= 10;
        return digits > 0;
    }

  private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

}  // namespace

Clock SystemClock() {
    return [] { return std::chrono::system_clock::now(); };
}

std::string NewUuid() {
    // RFC 9562 version 7: 48 bits of Unix milliseconds, then 12 bits counting up within
    // the millisecond (from a random start, per thread), then 62 random bits. Ids made one
    // after another sort one after another, so the SQLite B-trees keyed by them (inbox,
    // order stages, notifications) grow at their right edge instead of dirtying a random
    // page per insert.
    struct Sequence {
        uint64_t ms = 0;
        uint64_t counter = 0;
    };
    thread_local Sequence sequence;
    auto& random = Random();
    const auto now = static_cast<uint64_t>(ToUnixMillis(std::chrono::system_clock::now()) &
                                           int64_t{0xFFFFFFFFFFFF});
    if (now > sequence.ms) {
        sequence.ms = now;
        sequence.counter = random() & 0x7FF;  // leaves at least 2048 steps in this ms
    } else if (++sequence.counter > 0xFFF) {  // this ms is used up (or the clock went back)
        ++sequence.ms;
        sequence.counter = random() & 0x7FF;
    }
    const uint64_t high = (sequence.ms << 16) | uint64_t{0x7000} | sequence.counter;
    const uint64_t low = (random() & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant
    const std::string hex = fmt::format("{:016x}{:016x}", high, low);
    return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                       hex.substr(16, 4), hex.substr(20));
}

bool IsUuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !IsHex(text[i], true)) return false;
    }
    return true;
}

std::string FormatTime(TimePoint t) {
    const auto ms = floor<milliseconds>(t.time_since_epoch());
    const auto whole = floor<seconds>(ms);
    const std::tm f = UtcFields(whole);
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", f.tm_year + 1900,
                       f.tm_mon + 1, f.tm_mday, f.tm_hour, f.tm_min, f.tm_sec,
                       static_cast<int>((ms - whole).count()));
}

std::string FormatMinute(TimePoint t) {
    const std::tm f = UtcFields(floor<minutes>(t.time_since_epoch()));
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}Z", f.tm_year + 1900, f.tm_mon + 1,
                       f.tm_mday, f.tm_hour, f.tm_min);
}

// Forms: "2026-11-21", "2026-11-21T12:00", "2026-11-21T12:00:00", each optionally followed by
// a fraction of any length (after seconds only) and 'Z' or an offset "+01:00". 't', 'z' and a
// space for 'T' are accepted as RFC 3339 allows; a time without zone is read as UTC.
std::optional<TimePoint> ParseTime(std::string_view text) {
    Scanner in(text);
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    int64_t nanos = 0;
    int64_t offset_seconds = 0;
    if (!in.Number(4, year) || !in.Eat('-') || !in.Number(2, month) || !in.Eat('-') ||
        !in.Number(2, day)) {
        return std::nullopt;
    }
    if (!in.AtEnd()) {
        if (!in.Eat('T') && !in.Eat('t') && !in.Eat(' ')) return std::nullopt;
        if (!in.Number(2, hour) || !in.Eat(':') || !in.Number(2, minute)) return std::nullopt;
        if (in.Eat(':')) {
            if (!in.Number(2, second)) return std::nullopt;
            if ((in.Eat('.') || in.Eat(',')) && !in.Fraction(nanos)) return std::nullopt;
        }
        if (in.Eat('Z') || in.Eat('z')) {
            // UTC
        } else if (in.Peek() == '+' || in.Peek() == '-') {
            const int sign = in.Peek() == '-' ? -1 : 1;
            in.Eat(in.Peek());
            int offset_hour = 0, offset_minute = 0;
            if (!in.Number(2, offset_hour) || !in.Eat(':') || !in.Number(2, offset_minute) ||
                offset_hour > 23 || offset_minute > 59) {
                return std::nullopt;
            }
            offset_seconds = sign * (offset_hour * 3600 + offset_minute * 60);
        }
        if (!in.AtEnd()) return std::nullopt;
    }
    const std::chrono::year_month_day date{std::chrono::year{year},
                                           std::chrono::month{static_cast<unsigned>(month)},
                                           std::chrono::day{static_cast<unsigned>(day)}};
    // second 60 is a leap second (RFC 3339 allows it); it reads as the next minute's 00.
    if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;

    const int64_t total = int64_t{std::chrono::sys_days(date).time_since_epoch().count()} * 86400 +
                          hour * 3600 + minute * 60 + second - offset_seconds;
    // system_clock counts nanoseconds in 64 bits: years ~1678 to ~2262.
    constexpr int64_t kMaxSeconds = floor<seconds>(TimePoint::duration::max()).count() - 1;
    constexpr int64_t kMinSeconds = floor<seconds>(TimePoint::duration::min()).count() + 1;
    if (total > kMaxSeconds || total < kMinSeconds) return std::nullopt;
    return TimePoint(
        std::chrono::duration_cast<TimePoint::duration>(seconds(total) + nanoseconds(nanos)));
}

int64_t ToUnixMillis(TimePoint t) { return floor<milliseconds>(t.time_since_epoch()).count(); }

TimePoint FromUnixMillis(int64_t ms) {
    // Clamped: an untrusted AMQP timestamp must not overflow the nanosecond clock.
    constexpr int64_t kMax = floor<milliseconds>(TimePoint::duration::max()).count();
    constexpr int64_t kMin = floor<milliseconds>(TimePoint::duration::min()).count() + 1;
    ms = std::clamp(ms, kMin, kMax);
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(milliseconds(ms)));
}

std::optional<TraceContext> ParseTraceparent(std::string_view header) {
    // Header values may carry optional whitespace around them (RFC 9110 OWS).
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
        header.remove_prefix(1);
    }
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
        header.remove_suffix(1);
    }
    constexpr std::size_t kLength = 55;  // "00-" 32 "-" 16 "-" 2
    if (header.size() < kLength) return std::nullopt;
    const std::string_view version = header.substr(0, 2);
    if (!IsHex(version[0], false) || !IsHex(version[1], false) || version == "ff") {
        return std::nullopt;
    }
    // Version 00 is exactly 55 characters; a later version may append "-..." fields, which we
    // ignore as the W3C spec asks of a version-00 implementation.
    if (version == "00" ? header.size() != kLength
                        : header.size() > kLength && header[kLength] != '-') {
        return std::nullopt;
    }
    if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
    TraceContext ctx;
    ctx.trace_id = std::string(header.substr(3, 32));
    ctx.parent_id = std::string(header.substr(36, 16));
    const std::string_view flags = header.substr(53, 2);
    if (!IsTraceId(ctx.trace_id) || !IsTraceId(ctx.parent_id) || !IsHex(flags[0], false) ||
        !IsHex(flags[1], false)) {
        return std::nullopt;
    }
    ctx.flags = static_cast<uint8_t>(HexDigit(flags[0]) * 16 + HexDigit(flags[1]));
    return ctx;
}

std::string FormatTraceparent(const TraceContext& ctx) {
    return fmt::format("00-{}-{}-{:02x}", ctx.trace_id, ctx.parent_id,
                       static_cast<unsigned>(ctx.flags));
}

TraceContext NewTrace() {
    TraceContext ctx;
    ctx.trace_id = NonZeroHex(2);
    ctx.parent_id = NonZeroHex(1);
    ctx.flags = 1;  // sampled: we log every hop
    return ctx;
}

TraceContext ChildSpan(const TraceContext& parent) {
    TraceContext child;
    child.trace_id = parent.trace_id;
    child.parent_id = NonZeroHex(1);
    child.flags = parent.flags;
    return child;
}

}  // namespace orderflow::events
