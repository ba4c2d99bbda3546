// The console's pure parts: the admin token check (SPEC section 11), the in-memory model of
// the stream (series, end-to-end percentiles, bounded timelines) and the replicas read from
// the management API's connection list.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>

#include "console/admin_token.hpp"
#include "console/live_model.hpp"
#include "console/order_lookup.hpp"
#include "console/task_thread.hpp"
#include "console/timeline.hpp"
#include "console/views.hpp"
#include "events/ids.hpp"

using namespace orderflow;
using namespace orderflow::console;
using events::EventType;

namespace {

constexpr int64_t kT0 = 1'800'000'000'000;  // ms, on a 10 s boundary

StreamEvent Event(EventType type, const std::string& order, int64_t at_ms) {
    StreamEvent e;
    e.type = type;
    e.order_id = order;
    e.event_id = order + "-" + std::to_string(static_cast<int>(type));
    e.at_ms = at_ms;
    e.service = "svc";
    e.trace_id = "0af7651916cd43dd8448eb211c80319c";
    return e;
}

rapidjson::Document Parse(const std::string& json) {
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
}

}  // namespace

TEST_CASE("the admin token is required, and a wrong one is forbidden", "[console]") {
    const std::string right = "Bearer s3cret-token";
    const std::string wrong = "Bearer s3cret-tokeN";
    const std::string basic = "Basic Z3Vlc3Q6Z3Vlc3Q=";
    const std::string empty = "Bearer ";
    CHECK(CheckAdmin("s3cret-token", &right) == AdminCheck::kAllowed);
    CHECK(CheckAdmin("s3cret-token", nullptr) == AdminCheck::kUnauthenticated);
    CHECK(CheckAdmin("s3cret-token", &basic) == AdminCheck::kUnauthenticated);
    CHECK(CheckAdmin("s3cret-token", &empty) == AdminCheck::kUnauthenticated);
    CHECK(CheckAdmin("s3cret-token", &wrong) == AdminCheck::kForbidden);
    const std::string prefix = "Bearer s3cret";
    CHECK(CheckAdmin("s3cret-token", &prefix) == AdminCheck::kForbidden);
    const std::string lower = "bearer s3cret-token";
    CHECK(CheckAdmin("s3cret-token", &lower) == AdminCheck::kAllowed);
}

TEST_CASE("with no admin token configured every write action is forbidden", "[console]") {
    const std::string any = "Bearer anything";
    CHECK(CheckAdmin("", &any) == AdminCheck::kForbidden);
    CHECK(CheckAdmin("", nullptr) == AdminCheck::kForbidden);
}

TEST_CASE("constant-time comparison is still a comparison", "[console]") {
    CHECK(ConstantTimeEquals("abc", "abc"));
    CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
    CHECK_FALSE(ConstantTimeEquals("abc", "abcabc"));
    CHECK_FALSE(ConstantTimeEquals("abcabc", "abc"));
    CHECK_FALSE(ConstantTimeEquals("", "a"));
    CHECK_FALSE(ConstantTimeEquals("a", ""));
    CHECK(ConstantTimeEquals("", ""));
}

TEST_CASE("the console counts orders per second by stage and event time", "[console]") {
    LiveModel model;
    const int64_t now = kT0 + 30'000;
    model.OnEvent(Event(EventType::kOrderPlaced, "a", kT0 + 1'100), now);
    model.OnEvent(Event(EventType::kOrderPlaced, "b", kT0 + 1'900), now);
    model.OnEvent(Event(EventType::kInventoryRejected, "b", kT0 + 2'000), now);
    model.OnEvent(Event(EventType::kOrderPlaced, "old", kT0 - 1'000'000), now);  // beyond 15 min
    const auto doc = Parse(model.SeriesJson(now));
    const auto& t = doc["t"].GetArray();
    REQUIRE(t.Size() == LiveModel::kSeconds);
    CHECK(t[t.Size() - 1].GetInt64() == now - 1'000);  // the last complete second
    const auto index = [&](int64_t at) {
        return static_cast<rapidjson::SizeType>((at - t[0].GetInt64()) / 1000);
    };
    CHECK(doc["orders"]["placed"][index(kT0 + 1'000)].GetInt64() == 2);
    CHECK(doc["orders"]["rejected"][index(kT0 + 2'000)].GetInt64() == 1);
    int64_t placed = 0;
    for (const auto& v : doc["orders"]["placed"].GetArray()) placed += v.GetInt64();
    CHECK(placed == 2);
    CHECK(model.Seen().placed == 3);  // the totals count every event seen
}

TEST_CASE("end-to-end percentiles per 10 s come from OrderPlaced to NotificationSent",
          "[console]") {
    LiveModel model;
    const int64_t now = kT0 + 60'000;
    // 100 orders notified in the slot [kT0+10s, kT0+20s): 1..100 ms end to end.
    for (int i = 1; i <= 100; ++i) {
        const auto id = "o" + std::to_string(i);
        model.OnEvent(Event(EventType::kOrderPlaced, id, kT0 + 10'000), now);
        model.OnEvent(Event(EventType::kNotificationSent, id, kT0 + 10'000 + i), now);
    }
    const auto doc = Parse(model.SeriesJson(now));
    const auto& e2e = doc["e2e"];
    rapidjson::SizeType slot = 0;
    for (; slot < e2e["t"].Size(); ++slot) {
        if (e2e["t"][slot].GetInt64() == kT0 + 10'000) break;
    }
    REQUIRE(slot < e2e["t"].Size());
    CHECK(e2e["count"][slot].GetInt64() == 100);
    // Log buckets of 5 %: each percentile within 5 % of the exact one.
    CHECK(e2e["p50_ms"][slot].GetDouble() == Approx(50).epsilon(0.05));
    CHECK(e2e["p95_ms"][slot].GetDouble() == Approx(95).epsilon(0.05));
    CHECK(e2e["p99_ms"][slot].GetDouble() == Approx(99).epsilon(0.05));
    CHECK(e2e["p50_ms"][slot + 1].IsNull());  // no notification in the next slot
}

TEST_CASE("an order's timeline lists its events in time order with the gaps between them",
          "[console]") {
    LiveModel model;
    auto placed = Event(EventType::kOrderPlaced, "x", kT0);
    placed.service = "ingress";
    auto reserved = Event(EventType::kInventoryReserved, "x", kT0 + 250);
    reserved.service = "inventory";
    auto sent = Event(EventType::kNotificationSent, "x", kT0 + 400);
    sent.service = "notification";
    sent.detail = "Order x confirmed!";
    sent.outcome = "confirmed";
    model.OnEvent(placed, kT0 + 500);
    model.OnEvent(sent, kT0 + 500);  // arrival order is not event order
    model.OnEvent(reserved, kT0 + 500);
    const auto json = model.OrderJson("x");
    REQUIRE(json);
    const auto doc = Parse(*json);
    CHECK(std::string(doc["notification"].GetString()) == "Order x confirmed!");
    CHECK(std::string(doc["trace_id"].GetString()) == "0af7651916cd43dd8448eb211c80319c");
    const auto& list = doc["events"].GetArray();
    REQUIRE(list.Size() == 3);
    CHECK(std::string(list[0]["type"].GetString()) == "OrderPlaced");
    CHECK(list[0]["since_previous_ms"].IsNull());
    CHECK(std::string(list[1]["service"].GetString()) == "inventory");
    CHECK(list[1]["since_previous_ms"].GetInt64() == 250);
    CHECK(list[2]["since_previous_ms"].GetInt64() == 150);
    CHECK_FALSE(model.OrderJson("unknown"));
}

TEST_CASE("the console keeps a bounded number of order timelines, oldest dropped first",
          "[console]") {
    LiveModel model;
    for (size_t i = 0; i < LiveModel::kMaxOrders + 10; ++i) {
        model.OnEvent(Event(EventType::kOrderPlaced, "o" + std::to_string(i), kT0), kT0);
    }
    CHECK(model.OrdersKept() == LiveModel::kMaxOrders);
    CHECK_FALSE(model.OrderJson("o0"));
    CHECK(model.OrderJson("o" + std::to_string(LiveModel::kMaxOrders + 9)));
}

TEST_CASE("replicas come from the connections each service names and the consumers on them",
          "[console]") {
    const std::string connections = R"js([
      {"name":"127.0.0.1:1 -> 127.0.0.1:5672","client_properties":{"connection_name":"orderflow-inventory consumer (vm, pid 41)"
}
},
      {"name":"127.0.0.1:2 -> 127.0.0.1:5672","client_properties":{"connection_name":"orderflow-inventory publisher (vm, pid 41)"}},
      {"name":"127.0.0.1:3 -> 127.0.0.1:5672","client_properties":{"connection_name":"orderflow-inventory consumer (vm, pid 42)"}},
      {"name":"127.0.0.1:4 -> 127.0.0.1:5672","client_properties":{"connection_name":"orderflowctl status (vm, pid 7)"}}])js";
    const std::string consumers = R"js([
      {"queue":{"name":"inventory.order-placed"},"channel_details":{"connection_name":"127.0.0.1:1 -> 127.0.0.1:5672"}}])js";
    const auto replicas = ParseReplicas(connections, consumers);
    REQUIRE(replicas);
    REQUIRE(replicas->size() == 2);  // orderflowctl is not a service
    CHECK((*replicas)[0].pid == "41");
    CHECK((*replicas)[0].roles == std::vector<std::string>{"consumer", "publisher"});
    CHECK((*replicas)[0].consumes == std::vector<std::string>{"inventory.order-placed"});
    CHECK((*replicas)[1].pid == "42");
    CHECK((*replicas)[1].consumes.empty());  // connected, not consuming
}

TEST_CASE("an order id tells the console when the order was placed", "[console]") {
    const auto before = events::ToUnixMillis(std::chrono::system_clock::now());
    const auto id = events::NewUuid();
    const auto after = events::ToUnixMillis(std::chrono::system_clock::now());
    const auto ms = UuidV7Millis(id);
    REQUIRE(ms);
    CHECK(*ms >= before);
    CHECK(*ms <= after);
    CHECK(UuidV7Millis("017f22e2-79b0-7cc3-98c4-dc0c0c07398f") == 0x017f22e279b0);
    CHECK_FALSE(UuidV7Millis("f47ac10b-58cc-4372-a567-0e02b2c3d479"));  // version 4
    CHECK_FALSE(UuidV7Millis("not-an-id"));
}

TEST_CASE("a timeline says where it came from", "[console]") {
    Timeline timeline;
    timeline.Add(Event(EventType::kOrderPlaced, "x", kT0));
    CHECK(timeline.PlacedAt() == kT0);
    CHECK_FALSE(timeline.Notified());
    const auto doc = Parse(timeline.Json("x", {"stream", "read back"}));
    CHECK(std::string(doc["source"].GetString()) == "stream");
    CHECK(std::string(doc["note"].GetString()) == "read back");
    CHECK(doc["outcome"].IsNull());
    LiveModel model;
    model.OnEvent(Event(EventType::kOrderPlaced, "y", kT0), kT0);
    const auto kept = Parse(*model.OrderJson("y"));
    CHECK(std::string(kept["source"].GetString()) == "memory");
    CHECK(kept["note"].IsNull());
}

TEST_CASE("the console's task thread runs tasks in order and refuses beyond its bound",
          "[console]") {
    TaskThread thread(2);
    std::mutex mutex;
    std::vector<std::string> seen;
    const auto task = [&](std::string name) {
        return [&, name](bool run) {
            std::lock_guard lock(mutex);
            seen.push_back((run ? "ran " : "refused ") + name);
        };
    };
    // Not started: two wait, the third is refused at once.
    thread.Post(task("a"));
    thread.Post(task("b"));
    thread.Post(task("c"));
    CHECK(seen == std::vector<std::string>{"refused c"});
    thread.Start();
    thread.Stop();  // runs what waits
    CHECK(seen == std::vector<std::string>{"refused c", "ran a", "ran b"});
    thread.Post(task("d"));  // stopped: refused
    CHECK(seen.back() == "refused d");
}
