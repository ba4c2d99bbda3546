// The console's JSON API (SPEC section 10) against a real broker, the real pipeline and a
// real orderflow-analytics: every figure checked against the broker (passive declares) or
// the events the test caused; the admin token's 401/403 (section 11); replay and purge
// with their audit lines, written to the log without the token.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <sstream>

#include "events/ids.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "console-test-token-5b1f9c";

rapidjson::Document Parse(const std::string& json) {
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    INFO(json);
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
}

std::optional<rapidjson::Document> GetDoc(const Service& analytics, const std::string& path) {
    const auto answer = HttpCall("GET", analytics.Port(), path);
    if (answer.status != 200) return std::nullopt;
    rapidjson::Document doc;
    doc.Parse(answer.body.c_str());
    if (doc.HasParseError()) return std::nullopt;
    return doc;
}

const rapidjson::Value* QueueOf(const rapidjson::Document& overview, const std::string& name) {
    for (const auto& queue : overview["queues"].GetArray()) {
        if (name == queue["name"].GetString()) return &queue;
    }
    return nullptr;
}

int64_t ReadyOnBroker(broker::Client& client, const std::string& queue) {
    auto info = client.Inspect(broker::QueueName{queue});
    REQUIRE(info);
    REQUIRE(*info);
    return (**info).messages;
}

int64_t Sum(const rapidjson::Value& array) {
    int64_t sum = 0;
    for (const auto& v : array.GetArray()) sum += v.IsNull() ? 0 : v.GetInt64();
    return sum;
}

HttpResult Post(const Service& analytics, const std::string& path, const std::string& body,
                std::optional<std::string> authorization) {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (authorization) headers.emplace_back("Authorization", *authorization);
    return HttpCall("POST", analytics.Port(), path, body, headers);
}

std::map<std::string, std::string> AnalyticsEnv(const Pipeline& p, const std::string& token) {
    auto env = p.env;
    env["ORDERFLOW_MGMT_URL"] = Env("ORDERFLOW_TEST_MGMT_URL");
    if (!token.empty()) env["ORDERFLOW_ADMIN_TOKEN"] = token;
    return env;
}

}  // namespace

TEST_CASE("the console API shows the broker's backlog, the stream's orders and the dead letters",
          "[console]") {
    Pipeline p;
    p.StartAll();
    Service analytics("orderflow-analytics", AnalyticsEnv(p, kToken), p.dir);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    REQUIRE(Eventually([&] { return GetDoc(analytics, "/api/overview").has_value(); }, 20s));
    auto broker = ConnectBroker(p.vhost);

    // Three orders through the whole pipeline: their timelines, from the stream.
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const auto answer =
            PostOrder(p.ingress.Port(), "console" + std::to_string(i), {{"burger", 1}});
        REQUIRE(answer.status == 202);
        ids.push_back(JsonField(answer.body, "order_id"));
    }
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 30s));
    std::optional<rapidjson::Document> order;
    REQUIRE(Eventually(
        [&] {
            order = GetDoc(analytics, "/api/orders/" + ids[0]);
            return order && (*order)["events"].Size() == 3;
        },
        20s));
    const auto& events = (*order)["events"];
    CHECK(std::string(events[0]["type"].GetString()) == "OrderPlaced");
    CHECK(std::string(events[0]["service"].GetString()) == "ingress");
    CHECK(std::string(events[1]["type"].GetString()) == "InventoryReserved");
    CHECK(std::string(events[1]["service"].GetString()) == "inventory");
    CHECK(std::string(events[2]["type"].GetString()) == "NotificationSent");
    CHECK(std::string(events[2]["service"].GetString()) == "notification");
    CHECK(events[0]["since_previous_ms"].IsNull());
    CHECK(events[2]["since_previous_ms"].GetInt64() >= 0);
    CHECK(std::string((*order)["trace_id"].GetString()).size() == 32);
    CHECK(std::string((*order)["outcome"].GetString()) == "confirmed");
    const auto notifications =
        HttpCall("GET", p.notification.Port(), "/notifications?order_id=" + ids[0]);
    CHECK(notifications.body.find((*order)["notification"].GetString()) != std::string::npos);
    CHECK(HttpCall("GET", analytics.Port(), "/api/orders/not-an-order").status == 404);

    // Inventory stopped: the backlog the console shows is the broker's, with no consumer.
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(20s) == std::optional<int>(0));
    for (int i = 0; i < 5; ++i) {
        REQUIRE(PostOrder(p.ingress.Port(), "backlog", {{"fries", 1}}).status == 202);
    }
    const std::string work = "inventory.order-placed";
    REQUIRE(ReadyOnBroker(broker, work) == 5);
    std::optional<rapidjson::Document> overview;
    REQUIRE(Eventually(
        [&] {
            overview = GetDoc(analytics, "/api/overview");
            const auto* q = overview ? QueueOf(*overview, work) : nullptr;
            return q && (*q)["ready"].GetInt64() == 5 && (*q)["consumers"].GetInt64() == 0;
        },
        10s));
    const auto inventory_replicas = [&](size_t count) {
        overview = GetDoc(analytics, "/api/overview");
        if (!overview) return false;
        for (const auto& service : (*overview)["services"].GetArray()) {
            if (std::string(service["name"].GetString()) != "inventory") continue;
            return service["replicas"].IsArray() && service["replicas"].Size() == count;
        }
        return false;
    };
    CHECK(Eventually([&] { return inventory_replicas(0); }, 15s));

    // Poison while inventory is away; then inventory returns, drains, dead-letters it.
    const auto poison = RawEvent("order.placed", "{not json");
    REQUIRE(broker.Publish(poison) == broker::PublishStatus::kConfirmed);
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(Eventually(
        [&] {
            overview = GetDoc(analytics, "/api/overview");
            const auto* q = overview ? QueueOf(*overview, work) : nullptr;
            return q && (*q)["ready"].GetInt64() == 0 && (*q)["dlq_ready"].GetInt64() == 1 &&
                   (*q)["consumers"].GetInt64() == 1;
        },
        30s));
    CHECK(ReadyOnBroker(broker, work + ".dlq") == 1);
    // The management API lists connections and consumers a statistics interval late.
    const auto inventory_consuming = [&] {
        overview = GetDoc(analytics, "/api/overview");
        if (!overview) return false;
        for (const auto& service : (*overview)["services"].GetArray()) {
            if (std::string(service["name"].GetString()) != "inventory") continue;
            return service["replicas"].IsArray() && service["replicas"].Size() == 1 &&
                   service["replicas"][0]["consuming"].GetBool();
        }
        return false;
    };
    CHECK(Eventually(inventory_consuming, 15s));
    std::optional<rapidjson::Document> dead;
    REQUIRE(Eventually(
        [&] {
            dead = GetDoc(analytics, "/api/dead-letters");
            return dead && (*dead)["groups"].Size() == 1;
        },
        15s));
    const auto& group = (*dead)["groups"][0];
    CHECK(std::string(group["queue"].GetString()) == work);
    CHECK(std::string(group["kind"].GetString()) == "poison");
    CHECK(std::string(group["reason"].GetString()).starts_with("not_json"));
    CHECK(group["count"].GetInt64() == 1);
    CHECK(std::string(group["messages"][0]["message_id"].GetString()) ==
          poison.properties.message_id);
    CHECK(std::string(group["messages"][0]["body_preview"].GetString()) == "{not json");

    // The series: 8 orders placed, the backlog of 5 in the depth of the inventory queue.
    std::optional<rapidjson::Document> series;
    REQUIRE(Eventually(
        [&] {
            series = GetDoc(analytics, "/api/series");
            return series && Sum((*series)["orders"]["placed"]) == 8 &&
                   Sum((*series)["orders"]["notified"]) == 8;
        },
        20s));
    CHECK(Sum((*series)["orders"]["reserved"]) == 8);
    // The stream holds 8 orders x 3 events and the poison (bound with '#'): offsets 0..24.
    CHECK(Eventually(
        [&] {
            overview = GetDoc(analytics, "/api/overview");
            return overview && (*overview)["stream"]["last_offset"].IsInt64() &&
                   (*overview)["stream"]["last_offset"].GetInt64() == 24;
        },
        10s));
    CHECK(Sum((*series)["orders"]["rejected"]) == 0);
    int64_t peak = 0;
    for (const auto& v : (*series)["depth"][work.c_str()].GetArray()) {
        if (!v.IsNull()) peak = std::max(peak, v.GetInt64());
    }
    CHECK(peak == 5);
    int64_t timed = 0;
    for (const auto& v : (*series)["e2e"]["count"].GetArray()) timed += v.GetInt64();
    // Orders notified in the current 10 s slot are not shown yet.
    CHECK(timed <= 8);

    // Write actions: no token 401, a wrong one 403; the right one replays, with audit lines.
    const std::string replay_body = R"({"queue":"inventory.order-placed"})";
    const auto none = Post(analytics, "/api/dead-letters/replay", replay_body, std::nullopt);
    CHECK(none.status == 401);
    CHECK(none.body.find("UNAUTHENTICATED") != std::string::npos);
    const auto wrong =
        Post(analytics, "/api/dead-letters/replay", replay_body, "Bearer not-the-token");
    CHECK(wrong.status == 403);
    CHECK(wrong.body.find("FORBIDDEN") != std::string::npos);
    CHECK(Post(analytics, "/api/dead-letters/purge", replay_body, std::nullopt).status == 401);
    CHECK(ReadyOnBroker(broker, work + ".dlq") == 1);  // refused means nothing happened
    const auto bad_queue = Post(analytics, "/api/dead-letters/replay", R"({"queue":"nope"})",
                                std::string("Bearer ") + kToken);
    CHECK(bad_queue.status == 400);
    const auto replayed =
        Post(analytics, "/api/dead-letters/replay", replay_body, std::string("Bearer ") + kToken);
    INFO(replayed.body);
    REQUIRE(replayed.status == 200);
    const auto replay_doc = Parse(replayed.body);
    CHECK(replay_doc["replayed"].GetInt64() == 1);
    const std::string audit = replay_doc["audit"][0].GetString();
    CHECK(audit.starts_with("replayed message_id=" + poison.properties.message_id +
                            " queue=inventory.order-placed kind=poison replay_count=1 at="));
    CHECK(std::string(replay_doc["audit"][1].GetString())
              .starts_with("summary queue=inventory.order-placed dlq=inventory.order-placed.dlq "
                           "examined=1 replayed=1"));
    // The replayed poison fails again and is back in the DLQ: purge it.
    REQUIRE(Eventually([&] { return ReadyOnBroker(broker, work + ".dlq") == 1; }, 20s));
    const auto purged =
        Post(analytics, "/api/dead-letters/purge", replay_body, std::string("Bearer ") + kToken);
    INFO(purged.body);
    REQUIRE(purged.status == 200);
    CHECK(Parse(purged.body)["purged"].GetInt64() == 1);
    CHECK(purged.body.find("purged queue=inventory.order-placed dlq=inventory.order-placed.dlq "
                           "messages=1") != std::string::npos);
    CHECK(ReadyOnBroker(broker, work + ".dlq") == 0);
    REQUIRE(Eventually(
        [&] {
            dead = GetDoc(analytics, "/api/dead-letters");
            return dead && (*dead)["groups"].Size() == 0;
        },
        15s));

    // The audit lines are in the service's log; the token is nowhere in it.
    const auto log = analytics.Log();
    CHECK(log.find("replayed message_id=" + poison.properties.message_id) != std::string::npos);
    CHECK(log.find("purged queue=inventory.order-placed") != std::string::npos);
    CHECK(log.find(kToken) == std::string::npos);
}

TEST_CASE("without an admin token the console is read-only and every write action is forbidden",
          "[console]") {
    Pipeline p;
    Service analytics("orderflow-analytics", AnalyticsEnv(p, ""), p.dir);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    std::optional<rapidjson::Document> overview;
    REQUIRE(Eventually(
        [&] {
            overview = GetDoc(analytics, "/api/overview");
            return overview.has_value();
        },
        20s));
    CHECK((*overview)["read_only"].GetBool());
    const std::string body = R"({"queue":"inventory.order-placed"})";
    for (const auto* path : {"/api/dead-letters/replay", "/api/dead-letters/purge"}) {
        CHECK(Post(analytics, path, body, std::nullopt).status == 403);
        CHECK(Post(analytics, path, body, "Bearer anything").status == 403);
    }
}

TEST_CASE("the console page and its assets come from the binary and allow only their own origin",
          "[console]") {
    Pipeline p;
    Service analytics("orderflow-analytics", AnalyticsEnv(p, ""), p.dir);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    auto page = HttpCall("GET", analytics.Port(), "/");
    REQUIRE(page.status == 200);
    CHECK(page.headers["content-type"].starts_with("text/html"));
    CHECK(page.headers["content-security-policy"].starts_with("default-src 'self'"));
    // Every script and style the page names is one of ours, by path, and is served.
    for (const auto* asset : {"/assets/style.css", "/assets/chart.min.js", "/assets/app.js",
                              "/assets/api.js", "/assets/pipeline.js", "/assets/charts.js",
                              "/assets/deadletters.js", "/assets/order.js", "/assets/format.js"}) {
        INFO(asset);
        auto answer = HttpCall("GET", analytics.Port(), asset);
        CHECK(answer.status == 200);
        CHECK(answer.body.size() > 100);
        CHECK(answer.headers["content-security-policy"].starts_with("default-src 'self'"));
    }
    CHECK(page.body.find("src=\"http") == std::string::npos);
    CHECK(page.body.find("href=\"http") == std::string::npos);
    CHECK(page.body.find("//") == std::string::npos);  // no protocol-relative URL either
    CHECK(HttpCall("GET", analytics.Port(), "/assets/nope.js").status == 404);
}

TEST_CASE("an order the console did not keep in memory is read back from the stream by its id",
          "[console]") {
    Pipeline p;
    p.StartAll();
    // Two orders before analytics starts at the stream's end: it never sees their events.
    std::vector<std::string> ids;
    for (const char* sku : {"burger", "nothing-of-this"}) {
        const auto placed = PostOrder(p.ingress.Port(), "lookup", {{sku, 1}});
        REQUIRE(placed.status == 202);
        ids.push_back(JsonField(placed.body, "order_id"));
    }
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 30s));
    auto env = AnalyticsEnv(p, "");
    env["ORDERFLOW_ANALYTICS_FROM"] = "next";
    Service analytics("orderflow-analytics", env, p.dir);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    REQUIRE(Eventually([&] { return GetDoc(analytics, "/api/overview").has_value(); }, 20s));
    REQUIRE((*GetDoc(analytics, "/api/overview"))["orders_kept"].GetInt() == 0);

    const auto confirmed = GetDoc(analytics, "/api/orders/" + ids[0]);
    REQUIRE(confirmed);
    const auto& doc = *confirmed;
    CHECK(std::string(doc["source"].GetString()) == "stream");
    CHECK(std::string(doc["note"].GetString()).starts_with("read back from the stream"));
    CHECK(std::string(doc["outcome"].GetString()) == "confirmed");
    std::vector<std::string> stages;
    for (const auto& event : doc["events"].GetArray()) stages.push_back(event["type"].GetString());
    CHECK(stages ==
          std::vector<std::string>{"OrderPlaced", "InventoryReserved", "NotificationSent"});
    CHECK(std::string(doc["events"][0]["service"].GetString()) == "ingress");
    CHECK(std::string(doc["trace_id"].GetString()).size() == 32);

    const auto rejected = GetDoc(analytics, "/api/orders/" + ids[1]);
    REQUIRE(rejected);
    CHECK(std::string((*rejected)["outcome"].GetString()) == "rejected");
    CHECK(std::string((*rejected)["reason"].GetString()).find("nothing-of-this") !=
          std::string::npos);

    // An id of the right shape that no order has: 404 after reading to the stream's end;
    // something that is not an orderflow id: 404 at once.
    const auto unknown = HttpCall("GET", analytics.Port(), "/api/orders/" + events::NewUuid());
    INFO(unknown.body);
    CHECK(unknown.status == 404);
    CHECK(unknown.body.find("messages read") != std::string::npos);
    CHECK(HttpCall("GET", analytics.Port(), "/api/orders/not-an-id").status == 404);
}
