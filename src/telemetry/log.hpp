// One-line structured logs: `key=value` text (default) or one JSON object per line
// (ORDERFLOW_LOG_FORMAT=json). Thread-safe; each line is written whole by one write()
// (which may carry several lines, see LogBatch).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace orderflow::telemetry {

enum class LogFormat { kText, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct LogField {
    std::string_view key;
    std::variant<std::string_view, int64_t, double, bool> value;
    LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
    LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    LogField(std::string_view k, int64_t v) : key(k), value(v) {}
    LogField(std::string_view k, int v) : key(k), value(int64_t{v}) {}
    LogField(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
    LogField(std::string_view k, double v) : key(k), value(v) {}
    LogField(std::string_view k, bool v) : key(k), value(v) {}
};

// Called once at start-up by each main.
void ConfigureLog(std::string service, LogFormat format, LogLevel min_level = LogLevel::kInfo);
bool ParseLogFormat(std::string_view text, LogFormat& out);

// Text: `2026-11-21T12:00:00.000Z INFO inventory msg="..." key=value ...`
// JSON: {"ts":"...","level":"info","service":"inventory","msg":"...","key":value,...}
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

// While one is alive on a thread, the lines that thread logs to stdout are gathered and
// written together when it ends: a consumer's batch of per-message lines costs a few system
// calls instead of one per message. Each write holds whole lines only and at most PIPE_BUF
// bytes (unless one line is longer), so lines from other threads never split one of them.
// The lines are written when the scope ends, also during stack unwinding; a process killed
// inside the scope loses them (the batch it was handling is not acked either). Nestable;
// a test sink (SetLogSink) still receives every line at once.
class LogBatch final {
  public:
    LogBatch();
    ~LogBatch();
    LogBatch(const LogBatch&) = delete;
    LogBatch& operator=(const LogBatch&) = delete;
};

// True if a line at `level` would be written (skip building expensive fields otherwise).
bool LogEnabled(LogLevel level);

// The line Log writes (with its trailing newline), for a given time: pure, for tests.
std::string FormatLogLine(LogFormat format, std::string_view service,
                          std::chrono::system_clock::time_point time, LogLevel level,
                          std::string_view message, std::initializer_list<LogField> fields);

// RFC 3339 UTC with milliseconds: 2026-11-21T12:00:00.000Z.
std::string FormatTimestamp(std::chrono::system_clock::time_point time);

// Appends `text` as a JSON string literal (quotes included): control characters escaped,
// invalid UTF-8 replaced by U+FFFD, so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view text);

// Test hook: lines go to `sink` instead of stdout; an empty function restores stdout.
void SetLogSink(std::function<void(std::string_view line)> sink);

}  // namespace orderflow::telemetry
