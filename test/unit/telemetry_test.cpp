// Unit tests for src/telemetry: Prometheus rendering and the two log line formats.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

namespace tel = orderflow::telemetry;

namespace {

// 2026-11-21T12:00:00.042Z
std::chrono::system_clock::time_point FixedTime() {
    using namespace std::chrono;
    return sys_days{year{2026} / 11 / 21} + hours{12} + milliseconds{42};
}

size_t CountOf(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("a counter renders HELP and TYPE once per family and one line per label set",
          "[telemetry]") {
    tel::Registry registry;
    registry.GetCounter("orderflow_published_total", "Events published", {{"type", "b"}}).Inc();
    registry.GetCounter("orderflow_published_total", "Events published", {{"type", "a"}}).Inc(2.5);
    registry.GetCounter("orderflow_published_total", "Events published", {{"type", "b"}}).Inc();
    const auto text = registry.Render();
    CHECK(text ==
          "# HELP orderflow_published_total Events published\n"
          "# TYPE orderflow_published_total counter\n"
          "orderflow_published_total{type=\"a\"} 2.5\n"
          "orderflow_published_total{type=\"b\"} 2\n");
}

TEST_CASE("the same name and labels return the same counter instance", "[telemetry]") {
    tel::Registry registry;
    auto& a = registry.GetCounter("x_total", "h", {{"k", "v"}});
    auto& b = registry.GetCounter("x_total", "h", {{"k", "v"}});
    auto& c = registry.GetCounter("x_total", "h", {{"k", "w"}});
    CHECK(&a == &b);
    CHECK(&a != &c);
}

TEST_CASE("a counter ignores negative increments", "[telemetry]") {
    tel::Counter counter;
    counter.Inc(3);
    counter.Inc(-1);
    CHECK(counter.Value() == 3.0);
}

TEST_CASE("a gauge without labels renders a bare sample and supports set and add", "[telemetry]") {
    tel::Registry registry;
    auto& gauge = registry.GetGauge("orderflow_outbox_depth", "Unpublished events");
    gauge.Set(10);
    gauge.Add(-3);
    CHECK(registry.Render() ==
          "# HELP orderflow_outbox_depth Unpublished events\n"
          "# TYPE orderflow_outbox_depth gauge\n"
          "orderflow_outbox_depth 7\n");
}

TEST_CASE("families render in name order whatever the registration order", "[telemetry]") {
    tel::Registry registry;
    registry.GetGauge("zeta", "z").Set(1);
    registry.GetCounter("alpha_total", "a").Inc();
    registry.GetGauge("mid", "m").Set(1);
    const auto text = registry.Render();
    const auto a = text.find("# HELP alpha_total");
    const auto m = text.find("# HELP mid");
    const auto z = text.find("# HELP zeta");
    REQUIRE(a != std::string::npos);
    CHECK(a < m);
    CHECK(m < z);
}

TEST_CASE("label values escape backslash, quote and newline - help escapes backslash and newline",
          "[telemetry]") {
    tel::Registry registry;
    registry.GetCounter("e_total", "line1\nback\\slash \"q\"", {{"path", "a\"b\\c\nd"}}).Inc();
    const auto text = registry.Render();
    CHECK(text.find("# HELP e_total line1\\nback\\\\slash \"q\"\n") != std::string::npos);
    CHECK(text.find("e_total{path=\"a\\\"b\\\\c\\nd\"} 1\n") != std::string::npos);
}

TEST_CASE("histogram buckets are cumulative, le is inclusive, and +Inf equals the count",
          "[telemetry]") {
    tel::Histogram histogram({1.0, 0.1, 0.5});  // unsorted on purpose
    histogram.Observe(0.05);
    histogram.Observe(0.1);  // exactly on a bound: counts in that bucket
    histogram.Observe(0.3);
    histogram.Observe(7.0);  // above every bound: only +Inf
    CHECK(histogram.Bounds() == std::vector<double>{0.1, 0.5, 1.0});
    CHECK(histogram.CumulativeCounts() == std::vector<uint64_t>{2, 3, 3, 4});
    CHECK(histogram.Count() == 4);
    CHECK(histogram.Sum() == Approx(7.45));
}

TEST_CASE("a histogram renders _bucket with le labels, then _sum and _count", "[telemetry]") {
    tel::Registry registry;
    auto& h = registry.GetHistogram("lat_seconds", "Latency", {{"route", "/x"}}, {0.25, 1});
    h.Observe(0.2);
    h.Observe(2);
    CHECK(registry.Render() ==
          "# HELP lat_seconds Latency\n"
          "# TYPE lat_seconds histogram\n"
          "lat_seconds_bucket{route=\"/x\",le=\"0.25\"} 1\n"
          "lat_seconds_bucket{route=\"/x\",le=\"1\"} 1\n"
          "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 2\n"
          "lat_seconds_sum{route=\"/x\"} 2.2\n"
          "lat_seconds_count{route=\"/x\"} 2\n");
}

TEST_CASE("default latency buckets are sorted from 0.5 ms to 30 s", "[telemetry]") {
    const auto buckets = tel::LatencyBuckets();
    REQUIRE(!buckets.empty());
    CHECK(buckets.front() == 0.0005);
    CHECK(buckets.back() == 30.0);
    CHECK(std::is_sorted(buckets.begin(), buckets.end()));
}

TEST_CASE("registering one name as two metric types is rejected", "[telemetry]") {
    tel::Registry registry;
    registry.GetCounter("dup", "h");
    CHECK_THROWS_AS(registry.GetGauge("dup", "h"), std::logic_error);
}

TEST_CASE("collect callbacks run before each render and may register metrics", "[telemetry]") {
    tel::Registry registry;
    int depth = 0;
    registry.OnCollect([&] { registry.GetGauge("depth", "d").Set(++depth); });
    CHECK(registry.Render().find("depth 1\n") != std::string::npos);
    CHECK(registry.Render().find("depth 2\n") != std::string::npos);
}

TEST_CASE("concurrent increments are all counted", "[telemetry]") {
    tel::Registry registry;
    auto& counter = registry.GetCounter("c_total", "h");
    auto& histogram = registry.GetHistogram("h_seconds", "h", {}, {1.0});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                counter.Inc();
                histogram.Observe(0.5);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(counter.Value() == 40000.0);
    CHECK(histogram.Count() == 40000);
    CHECK(histogram.Sum() == 20000.0);
    CHECK(registry.Render().find("h_seconds_bucket{le=\"1\"} 40000\n") != std::string::npos);
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds", "[telemetry]") {
    CHECK(tel::FormatTimestamp(FixedTime()) == "2026-11-21T12:00:00.042Z");
}

TEST_CASE("timestamps stay exact from one call to the next across seconds, days and years",
          "[telemetry]") {
    // FormatTimestamp keeps the date of the last second per thread: a stale one must never
    // show, whichever way the clock moves between lines.
    using std::chrono::milliseconds;
    const auto t = FixedTime();
    CHECK(tel::FormatTimestamp(t + milliseconds(1)) == "2026-11-21T12:00:00.043Z");
    CHECK(tel::FormatTimestamp(t + milliseconds(958)) == "2026-11-21T12:00:01.000Z");
    CHECK(tel::FormatTimestamp(t - milliseconds(43)) == "2026-11-21T11:59:59.999Z");
    CHECK(tel::FormatTimestamp(t + std::chrono::hours(12)) == "2026-11-22T00:00:00.042Z");
    CHECK(tel::FormatTimestamp(t + std::chrono::hours(24 * 41)) == "2027-01-01T12:00:00.042Z");
    CHECK(tel::FormatTimestamp(std::chrono::system_clock::time_point{}) ==
          "1970-01-01T00:00:00.000Z");
    CHECK(tel::FormatTimestamp(std::chrono::system_clock::time_point{} - milliseconds(1)) ==
          "1969-12-31T23:59:59.999Z");
    CHECK(tel::FormatTimestamp(t) == "2026-11-21T12:00:00.042Z");
}

TEST_CASE("a text log line quotes only values that need it", "[telemetry]") {
    const auto line = tel::FormatLogLine(
        tel::LogFormat::kText, "inventory", FixedTime(), tel::LogLevel::kInfo, "order handled",
        {{"key", "value"}, {"key2", "value with spaces"}, {"n", 42}, {"ok", true}, {"ms", 1.5}});
    CHECK(line ==
          "2026-11-21T12:00:00.042Z INFO inventory msg=\"order handled\" key=value "
          "key2=\"value with spaces\" n=42 ok=true ms=1.5\n");
}

TEST_CASE(
    "a text log value with quotes, equals or newline is quoted and escaped - empty is left out",
    "[telemetry]") {
    const auto line =
        tel::FormatLogLine(tel::LogFormat::kText, "svc", FixedTime(), tel::LogLevel::kWarn, "m",
                           {{"a", "x=y"}, {"b", "say \"hi\"\n"}, {"c", ""}, {"d", "back\\slash"}});
    CHECK(line ==
          "2026-11-21T12:00:00.042Z WARN svc msg=m a=\"x=y\" b=\"say \\\"hi\\\"\\n\" "
          "d=\"back\\\\slash\"\n");
    const auto json = tel::FormatLogLine(tel::LogFormat::kJson, "svc", FixedTime(),
                                         tel::LogLevel::kWarn, "m", {{"c", ""}});
    CHECK(json.find(R"("c":"")") != std::string::npos);
}

TEST_CASE("log doubles are rounded to three decimals without trailing zeros", "[telemetry]") {
    const auto line =
        tel::FormatLogLine(tel::LogFormat::kText, "svc", FixedTime(), tel::LogLevel::kInfo, "m",
                           {{"a", 8.096269999999999}, {"b", 2.0}, {"c", 0.0004}});
    CHECK(line.ends_with(" a=8.096 b=2 c=0\n"));
}

TEST_CASE("a JSON log line has ts, level, service, msg, then the fields", "[telemetry]") {
    const auto line = tel::FormatLogLine(
        tel::LogFormat::kJson, "inventory", FixedTime(), tel::LogLevel::kError, "order handled",
        {{"order_id", "o-1"}, {"n", int64_t{-3}}, {"ok", false}, {"ms", 0.25}});
    CHECK(line ==
          "{\"ts\":\"2026-11-21T12:00:00.042Z\",\"level\":\"error\",\"service\":\"inventory\","
          "\"msg\":\"order handled\",\"order_id\":\"o-1\",\"n\":-3,\"ok\":false,\"ms\":0.25}\n");
}

TEST_CASE("a JSON log line escapes quotes, backslashes and control characters", "[telemetry]") {
    const std::string nasty = std::string("q\"b\\n\nt\tc") + '\x01' + "e";
    const auto line = tel::FormatLogLine(tel::LogFormat::kJson, "s", FixedTime(),
                                         tel::LogLevel::kInfo, nasty, {{"k\"", nasty}});
    const std::string escaped = R"("q\"b\\n\nt\tc\u0001e")";
    CHECK(line.find("\"msg\":" + escaped) != std::string::npos);
    CHECK(line.find(R"("k\"":)" + escaped) != std::string::npos);
    CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("JSON strings keep valid UTF-8 and replace invalid bytes", "[telemetry]") {
    std::string out;
    tel::AppendJsonString(out, "caf\xc3\xa9 \xff \xe2\x82");  // é, a stray byte, a cut sequence
    CHECK(out == "\"caf\xc3\xa9 \\ufffd \\ufffd\\ufffd\"");
}

TEST_CASE("non-finite doubles become null in JSON and NaN/Inf in text", "[telemetry]") {
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(tel::FormatLogLine(tel::LogFormat::kJson, "s", FixedTime(), tel::LogLevel::kInfo, "m",
                             {{"x", inf}})
              .find("\"x\":null}") != std::string::npos);
    CHECK(tel::FormatLogLine(tel::LogFormat::kText, "s", FixedTime(), tel::LogLevel::kInfo, "m",
                             {{"x", inf}})
              .find("x=+Inf") != std::string::npos);
}

TEST_CASE("Log writes through the sink and drops lines below the minimum level", "[telemetry]") {
    std::mutex mutex;
    std::vector<std::string> lines;
    tel::SetLogSink([&](std::string_view line) {
        std::lock_guard lock(mutex);
        lines.emplace_back(line);
    });
    tel::ConfigureLog("unit", tel::LogFormat::kJson, tel::LogLevel::kWarn);
    tel::Log(tel::LogLevel::kInfo, "dropped");
    tel::Log(tel::LogLevel::kError, "kept", {{"k", 1}});
    CHECK_FALSE(tel::LogEnabled(tel::LogLevel::kDebug));
    CHECK(tel::LogEnabled(tel::LogLevel::kError));
    tel::ConfigureLog("orderflow", tel::LogFormat::kText, tel::LogLevel::kInfo);
    tel::SetLogSink({});
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("\"service\":\"unit\",\"msg\":\"kept\",\"k\":1}\n") != std::string::npos);
}

TEST_CASE("parse log format accepts text and json only", "[telemetry]") {
    tel::LogFormat format = tel::LogFormat::kText;
    CHECK(tel::ParseLogFormat("json", format));
    CHECK(format == tel::LogFormat::kJson);
    CHECK(tel::ParseLogFormat("text", format));
    CHECK(format == tel::LogFormat::kText);
    CHECK_FALSE(tel::ParseLogFormat("xml", format));
}

TEST_CASE("lines logged from many threads reach stdout whole", "[telemetry]") {
    // Redirect fd 1 to a pipe and check that every line read back is intact.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const int saved = ::dup(1);
    ::dup2(fds[1], 1);
    const std::string payload(200, 'x');
    std::vector<std::thread> threads;
    std::string collected;
    std::thread reader([&] {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fds[0], buf, sizeof buf)) > 0) collected.append(buf, n);
    });
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) tel::Log(tel::LogLevel::kInfo, "line", {{"p", payload}});
        });
    }
    for (auto& thread : threads) thread.join();
    ::dup2(saved, 1);
    ::close(saved);
    ::close(fds[1]);
    reader.join();
    ::close(fds[0]);
    CHECK(CountOf(collected, "\n") == 800);
    CHECK(CountOf(collected, " msg=line p=" + payload + "\n") == 800);
}

namespace {

// Points stdout at a pipe for the life of the object (LogBatch writes with write(1, ...)).
class CapturedStdout final {
  public:
    CapturedStdout() {
        REQUIRE(::pipe(fds_) == 0);
        saved_ = ::dup(1);
        REQUIRE(saved_ >= 0);
        REQUIRE(::dup2(fds_[1], 1) == 1);
    }
    ~CapturedStdout() {
        ::dup2(saved_, 1);
        ::close(saved_);
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    CapturedStdout(const CapturedStdout&) = delete;
    CapturedStdout& operator=(const CapturedStdout&) = delete;

    // What has been written so far, without blocking.
    std::string Drain() {
        std::string out;
        char buffer[65536];
        while (true) {
            pollfd ready{fds_[0], POLLIN, 0};
            if (::poll(&ready, 1, 0) <= 0) return out;
            const ssize_t n = ::read(fds_[0], buffer, sizeof buffer);
            if (n <= 0) return out;
            out.append(buffer, static_cast<size_t>(n));
        }
    }

  private:
    int fds_[2] = {-1, -1};
    int saved_ = -1;
};

}  // namespace

TEST_CASE("a log batch writes its lines whole, in order, when it ends", "[telemetry]") {
    tel::SetLogSink({});
    tel::ConfigureLog("batchtest", tel::LogFormat::kText);
    CapturedStdout out;
    {
        const tel::LogBatch batch;
        {
            const tel::LogBatch nested;  // nesting: only the outermost scope writes
            tel::Log(tel::LogLevel::kInfo, "first", {{"n", 0}});
        }
        CHECK(out.Drain().empty());
        for (int i = 1; i < 40; ++i) tel::Log(tel::LogLevel::kInfo, "line", {{"n", i}});
    }
    const auto text = out.Drain();
    std::vector<std::string> lines;
    for (size_t start = 0; start < text.size();) {
        const auto end = text.find('\n', start);
        REQUIRE(end != std::string::npos);  // every line complete
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    REQUIRE(lines.size() == 40);
    for (size_t i = 0; i < lines.size(); ++i) {
        CHECK_THAT(lines[i], Catch::EndsWith(" n=" + std::to_string(i)));
    }
    // Outside a batch a line is written at once.
    tel::Log(tel::LogLevel::kInfo, "alone");
    CHECK_THAT(out.Drain(), Catch::Contains("msg=alone"));
    tel::ConfigureLog("orderflow", tel::LogFormat::kText);
}
