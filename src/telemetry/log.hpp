// One-line structured logs: `key=value` text (default) or one JSON object per line
// (ORDERFLOW_LOG_FORMAT=json). Thread-safe; each line is written with one write().
#pragma once

#include <cstdint>
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

}  // namespace orderflow::telemetry
