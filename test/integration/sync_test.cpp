// The synchronous chain end to end with real services: POST /orders/sync through inventory
// /reserve and notification /send, per-request and service-wide fault injection, timeouts,
// retries, the circuit breaker and its metrics. Time bounds are generous (shared machine)
// but every one of them is an upper and a lower bound that a wrong design would cross.
#include <catch2/catch.hpp>
#include <csignal>
#include <sstream>
#include <thread>

#include "events/codec.hpp"
#include "events/ids.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;
using EnvMap = std::map<std::string, std::string>;

std::string OrderBody(const std::vector<std::pair<std::string, int>>& items) {
    std::string body = R"({"user_id":"sync-user","items":{)";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) body += ",";
        body += "\"" + items[i].first + "\":" + std::to_string(items[i].second);
    }
    return body + "}}";
}

HttpResult PostSync(uint16_t port, const std::vector<std::pair<std::string, int>>& items,
                    const std::string& query = {}) {
    return HttpCall("POST", port, "/orders/sync" + query, OrderBody(items));
}

int64_t StockOf(uint16_t inventory_port, const std::string& sku) {
    const auto value = JsonField(HttpCall("GET", inventory_port, "/inventory").body, sku);
    return value.empty() ? -1 : std::stoll(value);
}

std::string ErrorCode(const HttpResult& result) { return JsonField(result.body, "code"); }

// The value of the series of `name` whose labels include every `labels` pair; 0 if absent.
double Metric(uint16_t port, const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels) {
    std::istringstream lines(HttpCall("GET", port, "/metrics").body);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.starts_with(name + "{")) continue;
        bool match = true;
        for (const auto& [key, value] : labels) {
            match = match && line.find(key + "=\"" + value + "\"") != std::string::npos;
        }
        if (match) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return 0;
}

// POST requests inventory answered on /reserve with `status`.
double ReserveAnswers(const Pipeline& p, const std::string& status) {
    return Metric(p.inventory.Port(), "orderflow_http_requests_total",
                  {{"route", "/reserve"}, {"method", "POST"}, {"status", status}});
}

double BreakerState(const Pipeline& p) {
    return Metric(p.ingress.Port(), "orderflow_circuit_breaker_state", {{"target", "inventory"}});
}

std::chrono::milliseconds Since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

}  // namespace

TEST_CASE("a sync order is confirmed with 200, reduces stock once and is visible as notified",
          "[sync]") {
    Pipeline p;
    p.StartAll();
    const auto burgers = StockOf(p.inventory.Port(), "burger");
    const auto fries = StockOf(p.inventory.Port(), "fries");
    REQUIRE(burgers == 100);

    const auto answer = PostSync(p.ingress.Port(), {{"burger", 2}, {"fries", 3}});
    REQUIRE(answer.status == 200);
    CHECK(JsonField(answer.body, "status") == "notified");
    CHECK(JsonField(answer.body, "outcome") == "confirmed");
    CHECK(JsonField(answer.body, "message").find("confirmed") != std::string::npos);
    CHECK(JsonField(answer.body, "inventory") == "1");  // attempts
    CHECK(JsonField(answer.body, "notification") == "1");
    const auto order_id = JsonField(answer.body, "order_id");
    REQUIRE(events::IsUuid(order_id));
    CHECK(answer.headers.at("location") == "/orders/" + order_id);

    // The answer came after the effects: no waiting needed.
    CHECK(StockOf(p.inventory.Port(), "burger") == burgers - 2);
    CHECK(StockOf(p.inventory.Port(), "fries") == fries - 3);
    const auto order = HttpCall("GET", p.ingress.Port(), "/orders/" + order_id);
    REQUIRE(order.status == 200);
    CHECK(JsonField(order.body, "status") == "notified");
    CHECK(JsonField(order.body, "outcome") == "confirmed");
    CHECK(order.body.find(R"("status":"accepted")") != std::string::npos);
    CHECK(order.body.find(R"("status":"reserved")") != std::string::npos);
    const auto notes =
        HttpCall("GET", p.notification.Port(), "/notifications?order_id=" + order_id).body;
    CHECK(JsonField(notes, "outcome") == "confirmed");
    CHECK(notes.find(R"("order_id")") == notes.rfind(R"("order_id")"));  // exactly one

    // Nothing went through the broker as well: the stock stays where the chain left it.
    std::this_thread::sleep_for(1s);
    CHECK(StockOf(p.inventory.Port(), "burger") == burgers - 2);
    CHECK(Metric(p.ingress.Port(), "orderflow_sync_calls_total",
                 {{"target", "notification"}, {"outcome", "ok"}}) == 1);
}

TEST_CASE("a sync order for an unknown sku is a 200 with the rejected outcome and its reason",
          "[sync]") {
    Pipeline p;
    p.StartAll();
    const auto answer = PostSync(p.ingress.Port(), {{"burger", 1}, {"caviar", 1}});
    REQUIRE(answer.status == 200);
    CHECK(JsonField(answer.body, "status") == "notified");
    CHECK(JsonField(answer.body, "outcome") == "rejected");
    CHECK(JsonField(answer.body, "reason_code") == "UNKNOWN_SKU");
    CHECK(JsonField(answer.body, "reason") == "Item 'caviar' not found in inventory");
    CHECK(JsonField(answer.body, "message").find("rejected") != std::string::npos);
    CHECK(StockOf(p.inventory.Port(), "burger") == 100);  // all or nothing
    const auto order =
        HttpCall("GET", p.ingress.Port(), "/orders/" + JsonField(answer.body, "order_id"));
    CHECK(JsonField(order.body, "outcome") == "rejected");
    CHECK(order.body.find(R"("status":"rejected")") != std::string::npos);
}

TEST_CASE("POST /orders/sync validates like POST /orders and sends nothing on bad input",
          "[sync]") {
    Pipeline p;
    p.StartAll();
    const auto port = p.ingress.Port();
    const std::string big(70 * 1024, 'x');
    const std::vector<std::tuple<std::string, std::string, std::string>> cases{
        {"{not json", "application/json", "INVALID_JSON"},
        {R"({"user_id":"u","items":{"burger":1},"extra":1})", "application/json",
         "SCHEMA_VIOLATION"},
        {R"({"user_id":"u","items":{"burger":0}})", "application/json", "SCHEMA_VIOLATION"},
        {R"({"user_id":"u","items":{"burger":1}})", "text/plain", "UNSUPPORTED_MEDIA_TYPE"},
        {R"({"user_id":")" + big + R"(","items":{"burger":1}})", "application/json",
         "PAYLOAD_TOO_LARGE"},
    };
    for (const auto& [body, type, code] : cases) {
        const auto sync = HttpCall("POST", port, "/orders/sync", body, {{"Content-Type", type}});
        const auto async = HttpCall("POST", port, "/orders", body, {{"Content-Type", type}});
        CHECK(ErrorCode(sync) == code);
        CHECK(sync.status == async.status);
        CHECK(ErrorCode(sync) == ErrorCode(async));
    }
    const auto bad_delay = PostSync(port, {{"burger", 1}}, "?delay_ms=soon");
    CHECK(bad_delay.status == 400);
    CHECK(ErrorCode(bad_delay) == "SCHEMA_VIOLATION");
    CHECK(ReserveAnswers(p, "200") + ReserveAnswers(p, "503") == 0);
    CHECK(StockOf(p.inventory.Port(), "burger") == 100);
}

TEST_CASE("a slow inventory gives 504 after every attempt timed out, within a bounded time",
          "[sync]") {
    // 3 attempts of 400 ms each, backoff at most 200 + 400 ms between them.
    Pipeline p(EnvMap{{"ORDERFLOW_SYNC_TIMEOUT_MS", "400"}, {"ORDERFLOW_SYNC_RETRIES", "2"}});
    p.StartAll();
    const auto start = Clock::now();
    const auto answer = PostSync(p.ingress.Port(), {{"burger", 1}}, "?delay_ms=1500");
    const auto elapsed = Since(start);
    CHECK(answer.status == 504);
    CHECK(ErrorCode(answer) == "UPSTREAM_TIMEOUT");
    CHECK(elapsed >= 1200ms);
    CHECK(elapsed <= 1800ms + 4000ms);  // attempts + maximal backoff + slack for the machine
    CHECK(Metric(p.ingress.Port(), "orderflow_sync_attempts_total",
                 {{"target", "inventory"}, {"result", "timeout"}}) == 3);
    CHECK(Metric(p.ingress.Port(), "orderflow_sync_calls_total",
                 {{"target", "inventory"}, {"outcome", "timeout"}}) == 1);

    // Inventory still handles the three late attempts; they carry one event id, so the
    // stock is taken once (the hazard of sync retries, contained by idempotency).
    REQUIRE(Eventually([&] { return ReserveAnswers(p, "200") == 3; }, 15s));
    CHECK(StockOf(p.inventory.Port(), "burger") == 99);
    // No notification call was made.
    CHECK(Metric(p.ingress.Port(), "orderflow_sync_calls_total", {{"target", "notification"}}) ==
          0);
}

TEST_CASE("?fail=1 gives 502 after exactly retries + 1 attempts at /reserve", "[sync]") {
    Pipeline p(EnvMap{{"ORDERFLOW_SYNC_RETRIES", "2"}});
    p.StartAll();
    const auto start = Clock::now();
    const auto answer = PostSync(p.ingress.Port(), {{"burger", 1}}, "?fail=1");
    CHECK(answer.status == 502);
    CHECK(ErrorCode(answer) == "UPSTREAM_FAILED");
    CHECK(answer.body.find("3 attempt(s) to inventory") != std::string::npos);
    CHECK(Since(start) < 5s);            // two backoffs of at most 200 and 400 ms
    std::this_thread::sleep_for(500ms);  // nothing more arrives later
    CHECK(ReserveAnswers(p, "503") == 3);
    CHECK(ReserveAnswers(p, "200") == 0);
    CHECK(StockOf(p.inventory.Port(), "burger") == 100);
    CHECK(Metric(p.ingress.Port(), "orderflow_sync_calls_total", {{"target", "notification"}}) ==
          0);
}

TEST_CASE("5 failed attempts open the breaker - it refuses fast, then a half-open trial decides",
          "[sync]") {
    Pipeline p(EnvMap{{"ORDERFLOW_SYNC_RETRIES", "2"},
                      {"ORDERFLOW_BREAKER_FAILURES", "5"},
                      {"ORDERFLOW_BREAKER_OPEN_MS", "2000"}});
    p.StartAll();
    const auto port = p.ingress.Port();
    CHECK(BreakerState(p) == 0);

    // 3 failed attempts, then 2 more: the fifth opens the breaker and ends the second call.
    CHECK(PostSync(port, {{"burger", 1}}, "?fail=1").status == 502);
    CHECK(BreakerState(p) == 0);
    const auto second = PostSync(port, {{"burger", 1}}, "?fail=1");
    CHECK(second.status == 502);
    CHECK(second.body.find("2 attempt(s) to inventory") != std::string::npos);
    CHECK(ReserveAnswers(p, "503") == 5);
    CHECK(BreakerState(p) == 1);

    // Open: refused at once, inventory not called.
    auto start = Clock::now();
    const auto refused = PostSync(port, {{"burger", 1}});
    CHECK(refused.status == 503);
    CHECK(ErrorCode(refused) == "CIRCUIT_OPEN");
    CHECK(refused.headers.contains("retry-after"));
    CHECK(Since(start) < 1000ms);
    CHECK(ReserveAnswers(p, "503") + ReserveAnswers(p, "200") == 5);
    CHECK(Metric(port, "orderflow_sync_calls_total",
                 {{"target", "inventory"}, {"outcome", "circuit_open"}}) == 1);

    // After the open period one trial goes through; it fails, so the breaker opens again
    // and the call ends without retrying.
    std::this_thread::sleep_for(2300ms);
    const auto failed_trial = PostSync(port, {{"burger", 1}}, "?fail=1");
    CHECK(failed_trial.status == 502);
    CHECK(failed_trial.body.find("1 attempt(s) to inventory") != std::string::npos);
    CHECK(ReserveAnswers(p, "503") == 6);
    CHECK(BreakerState(p) == 1);
    CHECK(PostSync(port, {{"burger", 1}}).status == 503);

    // The next trial succeeds and closes the breaker.
    std::this_thread::sleep_for(2300ms);
    start = Clock::now();
    const auto trial = PostSync(port, {{"burger", 1}});
    CHECK(trial.status == 200);
    CHECK(JsonField(trial.body, "outcome") == "confirmed");
    CHECK(BreakerState(p) == 0);
    CHECK(PostSync(port, {{"burger", 1}}).status == 200);
    CHECK(ReserveAnswers(p, "200") == 2);
    CHECK(StockOf(p.inventory.Port(), "burger") == 98);
    CHECK(Metric(port, "orderflow_circuit_breaker_transitions_total",
                 {{"target", "inventory"}, {"state", "open"}}) == 2);
}

TEST_CASE("with inventory stopped a sync order is 502 after the retries (connection refused)",
          "[sync]") {
    Pipeline p(EnvMap{{"ORDERFLOW_SYNC_RETRIES", "2"}});
    p.StartAll();
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(20s) == 0);
    const auto start = Clock::now();
    const auto answer = PostSync(p.ingress.Port(), {{"burger", 1}});
    CHECK(answer.status == 502);
    CHECK(ErrorCode(answer) == "UPSTREAM_FAILED");
    CHECK(answer.body.find("connect") != std::string::npos);
    CHECK(Since(start) < 5s);
    CHECK(Metric(p.ingress.Port(), "orderflow_sync_attempts_total",
                 {{"target", "inventory"}, {"result", "failed"}}) == 3);
}

TEST_CASE("service-wide fault injection applies to /reserve", "[sync]") {
    SECTION("ORDERFLOW_INJECT_FAIL_RATE=1 fails every attempt") {
        Pipeline p(EnvMap{{"ORDERFLOW_SYNC_RETRIES", "1"}},
                   EnvMap{{"ORDERFLOW_INJECT_FAIL_RATE", "1"}});
        p.StartAll();
        const auto answer = PostSync(p.ingress.Port(), {{"burger", 1}});
        CHECK(answer.status == 502);
        CHECK(ReserveAnswers(p, "503") == 2);
        CHECK(StockOf(p.inventory.Port(), "burger") == 100);
    }
    SECTION("ORDERFLOW_INJECT_DELAY_MS delays every handling") {
        Pipeline p(EnvMap{}, EnvMap{{"ORDERFLOW_INJECT_DELAY_MS", "700"}});
        p.StartAll();
        const auto start = Clock::now();
        const auto answer = PostSync(p.ingress.Port(), {{"burger", 1}});
        const auto elapsed = Since(start);
        CHECK(answer.status == 200);
        CHECK(elapsed >= 700ms);
        CHECK(elapsed < 5000ms);  // one attempt: the 5 s default timeout was not reached
        CHECK(JsonField(answer.body, "inventory") == "1");
    }
}

TEST_CASE("a repeated event_id at /reserve and /send changes nothing and gets the first answer",
          "[sync]") {
    Pipeline p;
    p.StartAll();
    events::OrderPlaced order;
    order.envelope.event_id = events::NewUuid();
    order.envelope.occurred_at = "2026-11-21T12:00:00.000Z";
    order.envelope.order_id = events::NewUuid();
    order.user_id = "repeat";
    order.items = {{"pizza", 2}};
    const auto body = events::Encode(order);

    const auto first = HttpCall("POST", p.inventory.Port(), "/reserve", body);
    const auto again = HttpCall("POST", p.inventory.Port(), "/reserve", body);
    REQUIRE(first.status == 200);
    CHECK(again.status == 200);
    CHECK(again.body == first.body);
    CHECK(JsonField(first.body, "event_type") == "InventoryReserved");
    CHECK(StockOf(p.inventory.Port(), "pizza") == 48);

    const auto sent = HttpCall("POST", p.notification.Port(), "/send", first.body);
    const auto resent = HttpCall("POST", p.notification.Port(), "/send", first.body);
    REQUIRE(sent.status == 200);
    CHECK(resent.body == sent.body);
    const auto notes =
        HttpCall("GET", p.notification.Port(), "/notifications?order_id=" + order.envelope.order_id)
            .body;
    CHECK(notes.find(R"("order_id")") != std::string::npos);
    CHECK(notes.find(R"("order_id")") == notes.rfind(R"("order_id")"));

    // Poison is 400, not a failure worth retrying; a per-request failure is 503.
    CHECK(HttpCall("POST", p.inventory.Port(), "/reserve", R"({"event_type":"x"})").status == 400);
    CHECK(HttpCall("POST", p.inventory.Port(), "/reserve?fail=1", body).status == 503);
}
