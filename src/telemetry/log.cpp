// Structured one-line logs; see log.hpp. The configuration is an immutable snapshot
// swapped atomically, so logging threads never take a lock; each line is one write().
#include "telemetry/log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>

namespace orderflow::telemetry {
namespace {

struct LogState {
    std::string service = "orderflow";
    LogFormat format = LogFormat::kText;
    LogLevel min_level = LogLevel::kInfo;
    std::function<void(std::string_view)> sink;  // empty: stdout
};

std::atomic<std::shared_ptr<const LogState>>& State() {
    static std::atomic<std::shared_ptr<const LogState>> state{std::make_shared<const LogState>()};
    return state;
}

// Writers (start-up, tests) serialise their read-modify-write of the snapshot.
std::mutex& WriterMutex() {
    static std::mutex mutex;
    return mutex;
}

template <typename Update>
void UpdateState(Update update) {
    std::lock_guard lock(WriterMutex());
    auto next = std::make_shared<LogState>(*State().load());
    update(*next);
    State().store(std::move(next));
}

std::string_view LevelText(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug:
            return "DEBUG";
        case LogLevel::kInfo:
            return "INFO";
        case LogLevel::kWarn:
            return "WARN";
        case LogLevel::kError:
            return "ERROR";
    }
    return "INFO";
}

std::string_view LevelJson(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kError:
            return "error";
    }
    return "info";
}

std::string FormatDouble(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    // Latencies and the like: three decimals are plenty, and "8.096269999999999" is noise.
    // std::to_chars rounds as printf("%.3f") does, for a fraction of fmt's cost per line.
    char buffer[64];
    auto [end, error] =
        std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed, 3);
    if (error != std::errc()) return fmt::format("{:.3f}", v);  // |v| >= 1e60: not a latency
    std::string text(buffer, end);
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    return text;
}

void AppendInt(std::string& out, int64_t v) {
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    out.append(buffer, result.ptr);
}

// Writes `value` as `width` decimal digits (zero-padded) at `out`.
void PutDigits(char* out, int value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

// logfmt: a value is quoted when it would otherwise be ambiguous to a parser.
bool NeedsQuotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    }
    return false;
}

void AppendTextValue(std::string& out, std::string_view v) {
    if (!NeedsQuotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (unsigned char c : v) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += fmt::format("\\u{:04x}", c);
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

// Keys come from code, but a space or '=' in one would corrupt the line: replace them.
void AppendTextKey(std::string& out, std::string_view key) {
    if (key.empty()) {
        out += '_';
        return;
    }
    for (unsigned char c : key) {
        out += (c <= ' ' || c == '"' || c == '=' || c == 0x7f) ? '_' : static_cast<char>(c);
    }
}

// Length of the valid UTF-8 sequence starting at `s[i]`, or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    size_t len = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
    return len;
}

void WriteAll(std::string_view line) {
    // One write() per line: concurrent lines never interleave (pipes guarantee it up to
    // PIPE_BUF, files opened O_APPEND and terminals in practice). Loop only for the rare
    // partial write of a very long line or a signal.
    while (!line.empty()) {
        const ssize_t n = ::write(1, line.data(), line.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // stdout gone: nothing sensible left to do with a log line
        }
        line.remove_prefix(static_cast<size_t>(n));
    }
}

// PIPE_BUF on Linux: a write to a pipe up to this size is never interleaved with others.
constexpr size_t kAtomicWrite = 4096;

// The calling thread's open LogBatch scopes and the lines they hold.
struct PendingLines {
    int depth = 0;
    std::string text;
};

PendingLines& Pending() {
    thread_local PendingLines pending;
    return pending;
}

void WriteOrGather(std::string_view line) {
    auto& pending = Pending();
    if (pending.depth == 0) {
        WriteAll(line);
        return;
    }
    if (!pending.text.empty() && pending.text.size() + line.size() > kAtomicWrite) {
        WriteAll(pending.text);
        pending.text.clear();
    }
    if (line.size() >= kAtomicWrite) {
        WriteAll(line);
        return;
    }
    pending.text += line;
}

}  // namespace

LogBatch::LogBatch() { ++Pending().depth; }

LogBatch::~LogBatch() {
    auto& pending = Pending();
    if (--pending.depth > 0 || pending.text.empty()) return;
    WriteAll(pending.text);
    pending.text.clear();
}

void AppendJsonString(std::string& out, std::string_view text) {
    out += '"';
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '\b':
                    out += "\\b";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                default:
                    if (c < 0x20) {
                        out += fmt::format("\\u{:04x}", c);
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        const size_t len = Utf8SequenceLength(text, i);
        if (len == 0) {
            out += "\\ufffd";
            ++i;
        } else {
            out.append(text.substr(i, len));
            i += len;
        }
    }
    out += '"';
}

std::string FormatTimestamp(std::chrono::system_clock::time_point time) {
    // Every log line starts with one: gmtime_r (which takes glibc's time-zone lock) and the
    // date digits are done once per second and thread, only the milliseconds each time.
    struct SecondCache {
        std::time_t second = std::numeric_limits<std::time_t>::min();
        char text[25] = "0000-00-00T00:00:00.000Z";
    };
    thread_local SecondCache cache;
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(time);
    const auto seconds = std::chrono::floor<std::chrono::seconds>(ms);
    const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
    if (t != cache.second) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        const int year = tm.tm_year + 1900;
        if (year < 0 || year > 9999) {  // outside RFC 3339's four digits: the slow, exact path
            return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, tm.tm_mon + 1,
                               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                               (ms - seconds).count());
        }
        PutDigits(cache.text, year, 4);
        PutDigits(cache.text + 5, tm.tm_mon + 1, 2);
        PutDigits(cache.text + 8, tm.tm_mday, 2);
        PutDigits(cache.text + 11, tm.tm_hour, 2);
        PutDigits(cache.text + 14, tm.tm_min, 2);
        PutDigits(cache.text + 17, tm.tm_sec, 2);
        cache.second = t;
    }
    std::string out(cache.text, 24);
    PutDigits(out.data() + 20, static_cast<int>((ms - seconds).count()), 3);
    return out;
}

std::string FormatLogLine(LogFormat format, std::string_view service,
                          std::chrono::system_clock::time_point time, LogLevel level,
                          std::string_view message, std::initializer_list<LogField> fields) {
    std::string out;
    out.reserve(128 + message.size());
    if (format == LogFormat::kJson) {
        out += "{\"ts\":\"";
        out += FormatTimestamp(time);
        out += "\",\"level\":\"";
        out += LevelJson(level);
        out += "\",\"service\":";
        AppendJsonString(out, service);
        out += ",\"msg\":";
        AppendJsonString(out, message);
        for (const auto& field : fields) {
            out += ',';
            AppendJsonString(out, field.key);
            out += ':';
            if (const auto* s = std::get_if<std::string_view>(&field.value)) {
                AppendJsonString(out, *s);
            } else if (const auto* i = std::get_if<int64_t>(&field.value)) {
                AppendInt(out, *i);
            } else if (const auto* d = std::get_if<double>(&field.value)) {
                // JSON has no NaN or infinity.
                out += std::isfinite(*d) ? FormatDouble(*d) : std::string("null");
            } else {
                out += std::get<bool>(field.value) ? "true" : "false";
            }
        }
        out += "}\n";
        return out;
    }
    out += FormatTimestamp(time);
    out += ' ';
    out += LevelText(level);
    out += ' ';
    AppendTextValue(out, service);
    out += " msg=";
    AppendTextValue(out, message);
    for (const auto& field : fields) {
        // An empty text field (no error, no order id) says nothing in a line a person reads;
        // the JSON format keeps every key so that every line has the same shape.
        if (const auto* s = std::get_if<std::string_view>(&field.value); s && s->empty()) continue;
        out += ' ';
        AppendTextKey(out, field.key);
        out += '=';
        if (const auto* s = std::get_if<std::string_view>(&field.value)) {
            AppendTextValue(out, *s);
        } else if (const auto* i = std::get_if<int64_t>(&field.value)) {
            AppendInt(out, *i);
        } else if (const auto* d = std::get_if<double>(&field.value)) {
            out += FormatDouble(*d);
        } else {
            out += std::get<bool>(field.value) ? "true" : "false";
        }
    }
    out += '\n';
    return out;
}

void ConfigureLog(std::string service, LogFormat format, LogLevel min_level) {
    UpdateState([&](LogState& state) {
        state.service = std::move(service);
        state.format = format;
        state.min_level = min_level;
    });
}

bool ParseLogFormat(std::string_view text, LogFormat& out) {
    if (text == "text") {
        out = LogFormat::kText;
        return true;
    }
    if (text == "json") {
        out = LogFormat::kJson;
        return true;
    }
    return false;
}

void SetLogSink(std::function<void(std::string_view line)> sink) {
    UpdateState([&](LogState& state) { state.sink = std::move(sink); });
}

bool LogEnabled(LogLevel level) { return level >= State().load()->min_level; }

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
    // Logging is called from catch blocks and completion handlers: it must never throw.
    try {
        const auto state = State().load();
        if (level < state->min_level) return;
        const std::string line =
            FormatLogLine(state->format, state->service, std::chrono::system_clock::now(), level,
                          message, fields);
        if (state->sink) {
            state->sink(line);
        } else {
            WriteOrGather(line);
        }
    } catch (...) {
        // Out of memory or a throwing test sink: dropping one line is the only option.
    }
}

}  // namespace orderflow::telemetry
