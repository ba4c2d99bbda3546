// The stream consumer: figures counted from orders.events by event time, the same from a
// live follower, a report from the first offset and after a restart that resumes from the
// stored offset; on SQLite and on PostgreSQL (ORDERFLOW_DATABASE_URL, schema analytics).
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <sstream>

#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

struct Stats {
    int64_t total = -1;
    int64_t failed = -1;
    double rate = -1;
    int64_t per_minute_sum = -1;
};

std::optional<Stats> ParseStats(const std::string& json) {
    rapidjson::Document doc;
    if (doc.Parse(json.c_str()).HasParseError() || !doc.IsObject()) return std::nullopt;
    if (!doc.HasMember("total_orders") || !doc.HasMember("failed_orders") ||
        !doc.HasMember("failure_rate") || !doc.HasMember("orders_per_minute")) {
        return std::nullopt;
    }
    Stats stats;
    stats.total = doc["total_orders"].GetInt64();
    stats.failed = doc["failed_orders"].GetInt64();
    stats.rate = doc["failure_rate"].GetDouble();
    stats.per_minute_sum = 0;
    for (const auto& minute : doc["orders_per_minute"].GetArray()) {
        REQUIRE(std::string(minute["minute"].GetString()).ends_with("Z"));
        stats.per_minute_sum += minute["orders"].GetInt64();
    }
    return stats;
}

// Runs `orderflow-analytics --report --from FROM` on the pipeline's vhost; its stdout.
std::string Report(const Pipeline& p, const std::string& from) {
    const std::string command = "ORDERFLOW_AMQP_URL='" + p.vhost.AmqpUrl() + "' '" +
                                ORDERFLOW_BIN_DIR + "/orderflow-analytics' --report --from '" +
                                from + "' 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    const int status = ::pclose(pipe);
    INFO(out);
    REQUIRE(status == 0);
    return out;
}

std::optional<Stats> Served(const Service& analytics) {
    const auto answer = HttpCall("GET", analytics.Port(), "/stats");
    if (answer.status != 200) return std::nullopt;
    return ParseStats(answer.body);
}

// Stream events the follower has consumed since it started (its /metrics counter).
int64_t Consumed(const Service& analytics) {
    std::istringstream metrics(HttpCall("GET", analytics.Port(), "/metrics").body);
    for (std::string line; std::getline(metrics, line);) {
        if (line.starts_with("orderflow_messages_consumed_total{") &&
            line.find(R"(queue="orders.events")") != std::string::npos) {
            return std::stoll(line.substr(line.rfind(' ') + 1));
        }
    }
    return 0;
}

void PostAndWait(Pipeline& p, const std::string& sku, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        const auto answer = PostOrder(p.ingress.Port(), "stats" + std::to_string(i), {{sku, 1}});
        REQUIRE(answer.status == 202);
        ids.push_back(JsonField(answer.body, "order_id"));
    }
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 60s, 200ms));
}

}  // namespace

TEST_CASE("analytics counts placed and rejected orders, live and replayed from the first offset",
          "[analytics]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    PostAndWait(p, "burger", 4);
    PostAndWait(p, "food", 2);  // unknown sku: rejected by inventory

    // A report from the first offset reads the whole stream and exits.
    auto report = ParseStats(Report(p, "first"));
    REQUIRE(report);
    CHECK(report->total == 6);
    CHECK(report->failed == 2);
    CHECK(report->rate == Approx(2.0 / 6.0));
    CHECK(report->per_minute_sum == 6);
    // A start time after every event counts nothing; one before counts everything.
    auto future = ParseStats(Report(p, "2200-01-01T00:00:00Z"));
    REQUIRE(future);
    CHECK(future->total == 0);
    auto past = ParseStats(Report(p, "2000-01-01T00:00:00.000Z"));
    REQUIRE(past);
    CHECK(past->total == 6);

    // The live follower agrees, and follows new events.
    Service analytics("orderflow-analytics", p.env, p.dir);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    REQUIRE(Eventually(
        [&] {
            auto served = Served(analytics);
            return served && served->total == 6 && served->failed == 2;
        },
        30s, 200ms));
    PostAndWait(p, "fries", 3);
    REQUIRE(Eventually(
        [&] {
            auto served = Served(analytics);
            return served && served->total == 9 && served->failed == 2;
        },
        30s, 200ms));

    // Killed (SIGKILL: no goodbye) and restarted, it resumes after the offset it stored with
    // the figures in the same transaction: nothing is counted twice, and it reads no event
    // again (a restart from the first offset would read them all and drop them as known).
    std::this_thread::sleep_for(1s);  // the last events of the orders reach the follower
    const auto read_before = Consumed(analytics);
    REQUIRE(read_before >= 9);
    analytics.Kill(SIGKILL);
    REQUIRE(analytics.Wait(20s).has_value());
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    std::this_thread::sleep_for(1500ms);
    auto resumed = Served(analytics);
    REQUIRE(resumed);
    CHECK(resumed->total == 9);
    CHECK(resumed->failed == 2);
    INFO(read_before << " stream events read before the kill");
    CHECK(Consumed(analytics) == 0);
    // ... and nothing is missed: what was published while it was down is counted too.
    analytics.Kill(SIGTERM);
    REQUIRE(analytics.Wait(20s) == std::optional<int>(0));
    PostAndWait(p, "food", 1);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    REQUIRE(Eventually(
        [&] {
            auto served = Served(analytics);
            return served && served->total == 10 && served->failed == 3;
        },
        30s, 200ms));
    auto final_report = ParseStats(Report(p, "first"));
    REQUIRE(final_report);
    CHECK(final_report->total == 10);
    CHECK(final_report->failed == 3);
}
