// `orderflowctl load` input handling without a network: URLs, durations, headers, the
// pre-serialized request with {{seq}}, result merging and the report formats.
#include <catch2/catch.hpp>
#include <string>

#include "load/options.hpp"
#include "load/report.hpp"
#include "load/request_template.hpp"
#include "load/result.hpp"

using namespace orderflow::load;

TEST_CASE("load URLs: host, port, target", "[load]") {
    auto url = ParseUrl("http://127.0.0.1:8000/orders/sync?delay_ms=2000");
    REQUIRE(url);
    CHECK(url->host == "127.0.0.1");
    CHECK(url->port == 8000);
    CHECK(url->target == "/orders/sync?delay_ms=2000");
    url = ParseUrl("http://localhost");
    REQUIRE(url);
    CHECK(url->port == 80);
    CHECK(url->target == "/");
    url = ParseUrl("http://[::1]:9000?x=1");
    REQUIRE(url);
    CHECK(url->host == "::1");
    CHECK(url->target == "/?x=1");
    CHECK_FALSE(ParseUrl("https://example.com/"));
    CHECK_FALSE(ParseUrl("ftp://x/"));
    CHECK_FALSE(ParseUrl("http://:80/"));
    CHECK_FALSE(ParseUrl("http://h:0/"));
    CHECK_FALSE(ParseUrl("http://h:70000/"));
    CHECK_FALSE(ParseUrl("http://h/a b"));
}

TEST_CASE("load durations accept s, ms, m and bare seconds", "[load]") {
    using std::chrono::milliseconds;
    CHECK(*ParseDuration("30") == std::chrono::seconds(30));
    CHECK(*ParseDuration("2s") == std::chrono::seconds(2));
    CHECK(*ParseDuration("1.5s") == milliseconds(1500));
    CHECK(*ParseDuration("500ms") == milliseconds(500));
    CHECK(*ParseDuration("2m") == std::chrono::minutes(2));
    CHECK_FALSE(ParseDuration("0"));
    CHECK(*ParseDuration("0", true) == milliseconds(0));
    CHECK_FALSE(ParseDuration("-1"));
    CHECK_FALSE(ParseDuration("fast"));
    CHECK_FALSE(ParseDuration(""));
}

TEST_CASE("load headers are 'Name: value'", "[load]") {
    auto header = ParseHeader("Idempotency-Key:  abc ");
    REQUIRE(header);
    CHECK(header->first == "Idempotency-Key");
    CHECK(header->second == "abc");
    CHECK_FALSE(ParseHeader("no colon"));
    CHECK_FALSE(ParseHeader("bad name: x"));
    CHECK_FALSE(ParseHeader("X: a\r\nInjected: 1"));
}

TEST_CASE("a request without placeholders is serialized once", "[load]") {
    LoadOptions options;
    options.url = *ParseUrl("http://127.0.0.1:8000/orders");
    options.body = R"({"user_id":"u","items":{"burger":1}})";
    options.headers = {{"X-Test", "1"}};
    const RequestTemplate request(options);
    CHECK_FALSE(request.HasPlaceholders());
    CHECK(request.Fixed() ==
          "POST /orders HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: orderflowctl-load\r\n"
          "Content-Type: application/json\r\nX-Test: 1\r\nContent-Length: 36\r\n\r\n"
          R"({"user_id":"u","items":{"burger":1}})");
}

TEST_CASE("{{seq}} is replaced in body and target, with the right Content-Length", "[load]") {
    LoadOptions options;
    options.url = *ParseUrl("http://h/orders?n={{seq}}");
    options.body = R"({"user_id":"u{{seq}}","n":{{seq}}})";
    const RequestTemplate request(options);
    REQUIRE(request.HasPlaceholders());
    std::string out;
    request.Render(12345, out);
    CHECK(out.starts_with("POST /orders?n=12345 HTTP/1.1\r\nHost: h\r\n"));
    const std::string body = R"({"user_id":"u12345","n":12345})";
    CHECK(out.ends_with("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    request.Render(7, out);  // the buffer is reused: nothing of the longer request is left
    CHECK(out.ends_with(R"({"user_id":"u7","n":7})"));
}

TEST_CASE("a GET without a body sends no Content-Length", "[load]") {
    LoadOptions options;
    options.url = *ParseUrl("http://h:8001/inventory");
    options.method = "GET";
    const RequestTemplate request(options);
    CHECK(request.Fixed() ==
          "GET /inventory HTTP/1.1\r\nHost: h:8001\r\n"
          "User-Agent: orderflowctl-load\r\n\r\n");
}

TEST_CASE("load options need a limit and sane numbers", "[load]") {
    LoadOptions options;
    options.url = *ParseUrl("http://h/");
    CHECK_FALSE(Validate(options));  // neither duration nor requests
    options.max_requests = 10;
    CHECK(Validate(options));
    options.mode = LoopMode::kOpen;
    CHECK_FALSE(Validate(options));  // no rate
    options.rate = 100;
    CHECK(Validate(options));
    options.threads = 0;
    CHECK_FALSE(Validate(options));
}

TEST_CASE("results count errors by status and kind, per second, and merge", "[load]") {
    LoadResult a;
    a.RecordAnswer(202, std::chrono::milliseconds(10), 0);
    a.RecordAnswer(503, std::chrono::milliseconds(20), 1);
    a.RecordFailure(Failure::kTimeout, 1);
    LoadResult b;
    b.RecordAnswer(202, std::chrono::milliseconds(30), 2);
    b.RecordFailure(Failure::kUnsent, 2);
    a.Merge(b);
    a.elapsed = std::chrono::seconds(2);
    CHECK(a.requests == 5);
    CHECK(a.successes == 2);
    CHECK(a.Errors() == 3);
    CHECK(a.Answered() == 3);
    CHECK(a.Throughput() == Approx(1.5));
    CHECK(a.ErrorStatuses() == std::map<int, uint64_t>{{503, 1}});
    REQUIRE(a.seconds.size() == 3);
    CHECK(a.seconds[1].errors == 2);
    CHECK(a.seconds[1].unavailable == 1);  // the 503, not the timeout
    CHECK(a.latency.Max() == 30'000);

    LoadOptions options;
    options.url = *ParseUrl("http://h:8000/orders");
    options.concurrency = 4;
    const std::string json = FormatJson(options, a);
    CHECK(json.find(R"("requests":5)") != std::string::npos);
    CHECK(json.find(R"("errors_by_status":{"503":1})") != std::string::npos);
    CHECK(json.find(R"("timeouts":1)") != std::string::npos);
    CHECK(json.find(R"("unsent":1)") != std::string::npos);
    const std::string csv = FormatSecondsCsv(a);
    CHECK(csv.starts_with(
        "second,requests,successes,errors,p50_ms,p99_ms,status_503\n0,1,1,0,10.000,"));
    CHECK(csv.find(",1\n2,") != std::string::npos);  // second 1: one 503
    const std::string percentiles = FormatPercentilesCsv(a);
    CHECK(percentiles.starts_with("percentile,latency_ms\n0,10.000\n"));
    CHECK(percentiles.ends_with("100,30.000\n"));
    CHECK(FormatSummary(options, a).find("503 x1, timeout x1, unsent x1") != std::string::npos);
}
