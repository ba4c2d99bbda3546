// The console in Debian's headless Chromium, driven over WebDriver (chromedriver's HTTP
// API, no client library): the page loads with no console error, no failed request and no
// request to another origin; the backlog it shows while inventory is stopped is the
// broker's and drains to 0 once inventory is back; poison appears with its reason; replay
// works with the token and is refused without it; an order shows its three stages in
// order. Screenshots of each state go to the test output directory (ORDERFLOW_TEST_OUTPUT_DIR).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "browser-test-token-77aa";

std::string Base64Decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    int bits = 0, buffer = 0;
    for (const char c : text) {
        const int v = value(c);
        if (v < 0) continue;
        buffer = (buffer << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    return out;
}

// One request to chromedriver. It answers "Connection: close" but keeps the connection
// open, so the answer ends where its Content-Length says, not at EOF.
std::string DriverCall(uint16_t port, const std::string& method, const std::string& path,
                       const std::string& body) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{60, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {};
    }
    const std::string request = method + " " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Content-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                                body;
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string in;
    char buffer[65536];
    size_t need = std::string::npos;
    while (need == std::string::npos || in.size() < need) {
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        in.append(buffer, static_cast<size_t>(n));
        const auto end = in.find("\r\n\r\n");
        if (need == std::string::npos && end != std::string::npos) {
            std::string head = in.substr(0, end);
            for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const auto at = head.find("content-length:");
            need = end + 4 + (at == std::string::npos ? 0 : std::stoul(head.substr(at + 15)));
        }
    }
    ::close(fd);
    const auto end = in.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : in.substr(end + 4);
}

std::string JsonText(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

std::string Quote(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return {buffer.GetString(), buffer.GetSize()};
}

// chromedriver as a child process and one headless Chromium session.
class Browser final {
  public:
    explicit Browser(const std::filesystem::path& dir) : port_(FreePort()) {
        const std::string log = (dir / "chromedriver.log").string();
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            const std::string port_arg = "--port=" + std::to_string(port_);
            ::execl("/usr/bin/chromedriver", "chromedriver", port_arg.c_str(), nullptr);
            ::_exit(127);
        }
        REQUIRE(Eventually([&] { return !DriverCall(port_, "GET", "/status", {}).empty(); }, 20s));
        const auto profile = dir / "chromium-profile";
        std::filesystem::create_directories(profile);
        // As root Chromium needs --no-sandbox; the rest keeps it off the (closed) network.
        const std::string body = R"({"capabilities":{"alwaysMatch":{"browserName":"chrome",)"
                                 R"("goog:loggingPrefs":{"browser":"ALL"},)"
                                 R"("goog:chromeOptions":{"binary":"/usr/bin/chromium","args":[)"
                                 R"("--headless","--no-sandbox","--disable-gpu","--disable-quic",)"
                                 R"("--no-first-run","--disable-background-networking",)"
                                 R"("--disable-component-update","--disable-sync",)"
                                 R"("--disable-dev-shm-usage","--window-size=1400,2400",)"
                                 R"("--user-data-dir=)" +
                                 profile.string() + R"("]}}}})";
        auto session = Call("POST", "/session", body);
        INFO(JsonText(session));
        REQUIRE(session.HasMember("value"));
        REQUIRE(session["value"].HasMember("sessionId"));
        session_ = session["value"]["sessionId"].GetString();
    }
    ~Browser() {
        if (!session_.empty()) DriverCall(port_, "DELETE", "/session/" + session_, {});
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    void Open(const std::string& url) {
        Call("POST", Path("/url"), R"({"url":)" + Quote(url) + "}");
    }
    // Runs `script` (a function body) in the page; its return value as a JSON document.
    rapidjson::Document Run(const std::string& script) {
        auto answer =
            Call("POST", Path("/execute/sync"), R"({"script":)" + Quote(script) + R"(,"args":[]})");
        rapidjson::Document value;
        if (answer.HasMember("value")) value.CopyFrom(answer["value"], value.GetAllocator());
        return value;
    }
    std::string Text(const std::string& css) {
        auto value = Run("const e = document.querySelector(" + Quote(css) +
                         "); return e ? e.textContent : null;");
        return value.IsString() ? value.GetString() : std::string("<missing>");
    }
    void Click(const std::string& css) {
        auto clicked = Run("const e = document.querySelector(" + Quote(css) +
                           "); if (!e) return false; e.click(); return true;");
        REQUIRE(clicked.IsBool());
        REQUIRE(clicked.GetBool());
    }
    void Screenshot(const std::filesystem::path& file) {
        auto answer = Call("GET", Path("/screenshot"), {});
        REQUIRE(answer["value"].IsString());
        std::ofstream(file, std::ios::binary) << Base64Decode(answer["value"].GetString());
    }
    // Console messages since the last call: {level, message} objects.
    rapidjson::Document Log() {
        auto answer = Call("POST", Path("/se/log"), R"({"type":"browser"})");
        rapidjson::Document value;
        if (answer.HasMember("value")) value.CopyFrom(answer["value"], value.GetAllocator());
        return value;
    }

  private:
    std::string Path(const std::string& rest) const { return "/session/" + session_ + rest; }
    rapidjson::Document Call(const std::string& method, const std::string& path,
                             const std::string& body) {
        const auto answer = DriverCall(port_, method, path, body);
        rapidjson::Document doc;
        doc.Parse(answer.c_str());
        INFO(method << " " << path << " -> " << answer.substr(0, 500));
        REQUIRE_FALSE(doc.HasParseError());
        return doc;
    }

    uint16_t port_;
    pid_t pid_ = -1;
    std::string session_;
};

std::filesystem::path OutputDir() {
    const std::filesystem::path dir = std::filesystem::path(ORDERFLOW_TEST_OUTPUT_DIR) / "console";
    std::filesystem::create_directories(dir);
    return dir;
}

int64_t ReadyOnBroker(broker::Client& client, const std::string& queue) {
    auto info = client.Inspect(broker::QueueName{queue});
    REQUIRE(info);
    REQUIRE(*info);
    return (**info).messages;
}

// The page's figure as a number ("1,234" -> 1234), -1 when it is not a number.
int64_t Figure(Browser& browser, const std::string& css) {
    std::string digits;
    for (const char c : browser.Text(css)) {
        if (c >= '0' && c <= '9') digits.push_back(c);
        if (c != ',' && (c < '0' || c > '9')) return -1;
    }
    return digits.empty() ? -1 : std::stoll(digits);
}

}  // namespace

TEST_CASE("the console page in Chromium follows a backlog, its drain, poison and an order",
          "[browser]") {
    const auto out = OutputDir();
    Pipeline p;
    p.StartAll();
    auto env = p.env;
    env["ORDERFLOW_MGMT_URL"] = Env("ORDERFLOW_TEST_MGMT_URL");
    env["ORDERFLOW_ADMIN_TOKEN"] = kToken;
    Service analytics("orderflow-analytics", env, p.dir);
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    REQUIRE(Eventually(
        [&] { return HttpCall("GET", analytics.Port(), "/api/overview").status == 200; }, 20s));
    auto broker = ConnectBroker(p.vhost);
    const std::string origin = "http://127.0.0.1:" + std::to_string(analytics.Port());

    // One order all the way, before the page opens.
    const auto placed = PostOrder(p.ingress.Port(), "browser", {{"burger", 1}});
    REQUIRE(placed.status == 202);
    const auto order_id = JsonField(placed.body, "order_id");
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), {order_id}); }, 30s));

    Browser browser(p.dir);
    browser.Open(origin + "/");
    REQUIRE(Eventually(
        [&] {
            return browser.Run("return Number(document.body.dataset.ticks || 0)").GetInt() >= 2;
        },
        20s));
    const std::string inventory_ready =
        R"([data-queue="inventory.order-placed"] [data-field="ready"])";
    CHECK(Figure(browser, inventory_ready) == 0);
    // A console younger than 15 minutes draws what it has across the chart (from its first
    // sample, a minute at least), not a sliver at the right edge of 900 empty seconds.
    const auto depth_points =
        browser.Run("return Chart.getChart('chart-depth').data.labels.length;");
    REQUIRE(depth_points.IsInt());
    CHECK(depth_points.GetInt() >= 60);
    CHECK(depth_points.GetInt() < 300);
    // The pipeline is patched in place: the card seen now is the one that shows the backlog.
    browser.Run(
        "window.inventoryCard = document.querySelector('[data-queue=\"inventory.order-placed\"]'); "
        "return true;");
    browser.Screenshot(out / "1-loaded.png");

    // 15 minutes of one-second slots (made up: a 5,000-message peak at one slot, 10 orders/s
    // throughout) drawn as at most 225 clock-aligned buckets: the peak kept, the rate kept;
    // and a window one second later (its edge now cutting the oldest bucket) changes no
    // finished bucket, so an idle chart is not redrawn at every poll.
    const auto buckets = browser.Run(R"(
        return import('/assets/charts.js').then(({ bucketed, largest, mean }) => {
          const slots = (start) => Array.from({ length: 900 }, (_, i) => (1796316001 + start + i) * 1000);
          const t = slots(0);
          const d = bucketed(t, [["q", t.map((ms) => (ms === 1796316501000 ? 5000 : 0))]], largest);
          const o = bucketed(t, [["placed", t.map(() => 10)]], mean);
          const rising = (start) => {
            const s = slots(start);
            return bucketed(s, [["r", s.map((ms) => ms / 1000 - 1796316000)]], mean);
          };
          const a = rising(3), b = rising(4);
          const before = new Map(a.t.slice(0, -1).map((ms, i) => [ms, a.columns[0][1][i]]));
          const shared = b.t.filter((ms) => before.has(ms)).length;
          const unchanged = b.t.every((ms, i) => !before.has(ms) || before.get(ms) === b.columns[0][1][i]);
          return { points: d.t.length, peak: Math.max(...d.columns[0][1]),
                   rates: [...new Set(o.columns[0][1])], aligned: d.t.every((ms) => (ms / 1000) % 4 === 0),
                   shared, unchanged,
                   young: bucketed([1000, 2000, 3000], [["q", [1, 2, 3]]], largest).columns[0][1] };
        });)");
    INFO(JsonText(buckets));
    REQUIRE(buckets.IsObject());
    CHECK(buckets["points"].GetInt() <= 225);
    CHECK(buckets["points"].GetInt() >= 200);
    CHECK(buckets["peak"].GetInt() == 5000);
    CHECK(JsonText(buckets["rates"]) == "[10]");
    CHECK(buckets["aligned"].GetBool());
    CHECK(buckets["shared"].GetInt() >= 200);
    CHECK(buckets["unchanged"].GetBool());
    CHECK(JsonText(buckets["young"]) == "[1,2,3]");

    // Inventory stopped, orders waiting: the page shows the broker's backlog.
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(20s) == std::optional<int>(0));
    for (int i = 0; i < 12; ++i) {
        REQUIRE(PostOrder(p.ingress.Port(), "browser", {{"fries", 1}}).status == 202);
    }
    const auto poison = RawEvent("order.placed", R"({"event_type":"OrderPlaced","oops":true})");
    REQUIRE(broker.Publish(poison) == broker::PublishStatus::kConfirmed);
    REQUIRE(ReadyOnBroker(broker, "inventory.order-placed") == 13);
    REQUIRE(Eventually([&] { return Figure(browser, inventory_ready) == 13; }, 10s));
    CHECK(browser
              .Run("return document.querySelector('[data-queue=\"inventory.order-placed\"]') === "
                   "window.inventoryCard;")
              .GetBool());
    CHECK(browser.Text(R"([data-queue="inventory.order-placed"] .badge)") == "no consumer");
    CHECK(browser.Text(R"([data-service="inventory"] [data-replica])") == "no replica connected");
    browser.Screenshot(out / "2-backlog-inventory-stopped.png");

    // Inventory back: the page drains to 0 and the poison shows in the dead letters.
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(Eventually([&] { return Figure(browser, inventory_ready) == 0; }, 30s));
    CHECK(ReadyOnBroker(broker, "inventory.order-placed") == 0);
    REQUIRE(Eventually(
        [&] { return browser.Text(R"([data-field="reason"])").starts_with("schema_violation"); },
        20s));
    CHECK(browser.Text(R"([data-queue="inventory.order-placed"] [data-field="dlq_ready"])") ==
          "DLQ 1");
    browser.Screenshot(out / "3-drained-poison-in-dlq.png");

    // Replay refused without the token...
    browser.Click("tr.group");
    REQUIRE(Eventually([&] { return browser.Text("[data-message-id]") != "<missing>"; }, 5s));
    browser.Click(R"([data-action="replay-group"])");
    REQUIRE(Eventually(
        [&] { return browser.Text(R"([data-field="audit"])").starts_with("401 UNAUTHENTICATED"); },
        10s));
    CHECK(browser.Text(".letter-head .muted").find("replayed 0×") != std::string::npos);
    browser.Screenshot(out / "4-replay-refused-without-token.png");
    // ...and done with it: the audit line comes back, the poison (poison again) returns with
    // its replay count raised.
    browser.Run(std::string("const i = document.getElementById('token'); i.value = '") + kToken +
                "'; i.dispatchEvent(new Event('change')); return true;");
    browser.Click(R"([data-action="replay-group"])");
    REQUIRE(Eventually(
        [&] {
            return browser.Text(R"([data-field="audit"])")
                .starts_with("replayed message_id=" + poison.properties.message_id);
        },
        15s));
    REQUIRE(Eventually(
        [&] {
            return browser.Text(".letter-head .muted").find("replayed 1×") != std::string::npos;
        },
        20s));
    browser.Screenshot(out / "5-replayed-with-token.png");

    // The order's journey: three stages in order.
    browser.Run("document.getElementById('order-id').value = " + Quote(order_id) +
                "; document.getElementById('order-form').requestSubmit(); return true;");
    REQUIRE(Eventually([&] { return browser.Text("[data-field=\"notification\"]") != "<missing>"; },
                       10s));
    auto stages = browser.Run(
        "return [...document.querySelectorAll('.timeline li')].map(li => li.dataset.stage);");
    CHECK(JsonText(stages) == R"(["placed","reserved","notified"])");
    CHECK(browser.Text("#order").find("null") == std::string::npos);  // no absent part printed
    browser.Screenshot(out / "6-order-timeline.png");

    // No console error, no failed request, no request to another origin, all along.
    auto log = browser.Log();
    std::vector<std::string> errors;
    for (const auto& entry : log.GetArray()) {
        if (std::string(entry["level"].GetString()) == "SEVERE" &&
            std::string(entry["message"].GetString()).find("401") == std::string::npos) {
            errors.push_back(entry["message"].GetString());
        }
    }
    INFO(JsonText(log));
    CHECK(errors.empty());
    auto requests = browser.Run(
        "return performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource')).map(e => [e.name, e.responseStatus]);");
    REQUIRE(requests.IsArray());
    CHECK(requests.Size() > 10);
    for (const auto& request : requests.GetArray()) {
        const std::string url = request[0].GetString();
        const int status = request[1].GetInt();
        INFO(url << " " << status);
        CHECK(url.starts_with(origin + "/"));
        // The one refusal the test asked for is the only answer that is not a success.
        if (status != 401) CHECK((status >= 200 && status < 300));
    }
}
