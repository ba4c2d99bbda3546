// orderflowctl end to end: the real binary run as a subprocess against real services, each
// test on a vhost of its own: dead-letter replay after a fault is gone, a replay killed
// halfway, the replay loop guard, dlq list/show/purge, poison published by hand, topology
// declare/check, and status (JSON, plain lines, --watch on a pipe and on a terminal).
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pty.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "events/ids.hpp"
#include "support.hpp"

extern char** environ;

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

const broker::QueueName kWork{"inventory.order-placed"};
const broker::QueueName kDlq{"inventory.order-placed.dlq"};

struct CtlRun {
    int exit = -1000;  // exit status, or -signal
    std::string out;
    std::string err;
};

std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// argv and envp of `orderflowctl --amqp-url <vhost> --mgmt-url <test mgmt> args...`.
struct Command {
    std::vector<std::string> argv;
    std::vector<std::string> envp;
};
Command CtlCommand(const Vhost& vhost, const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env) {
    Command command;
    command.argv = {std::string(ORDERFLOW_BIN_DIR) + "/orderflowctl", "--amqp-url", vhost.AmqpUrl(),
                    "--mgmt-url", Env("ORDERFLOW_TEST_MGMT_URL")};
    command.argv.insert(command.argv.end(), args.begin(), args.end());
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        if (!env.contains(entry.substr(0, entry.find('=')))) command.envp.push_back(entry);
    }
    for (const auto& [name, value] : env) command.envp.push_back(name + "=" + value);
    return command;
}

// Waits for `pid`; sends SIGINT after `interrupt_after` if given, SIGKILL (and FAILs) at
// `timeout`. Returns the exit status or -signal.
int WaitChild(pid_t pid, std::chrono::milliseconds timeout,
              std::optional<std::chrono::milliseconds> interrupt_after) {
    const auto start = std::chrono::steady_clock::now();
    bool interrupted = false;
    while (true) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        }
        const auto elapsed = std::chrono::steady_clock::now() - start;
        if (interrupt_after && !interrupted && elapsed >= *interrupt_after) {
            ::kill(pid, SIGINT);
            interrupted = true;
        }
        if (elapsed >= timeout) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            FAIL("orderflowctl did not finish in time");
        }
        std::this_thread::sleep_for(10ms);
    }
}

// Runs orderflowctl against the vhost with stdout and stderr in files (not a terminal).
CtlRun RunCtl(const Vhost& vhost, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {},
              std::optional<std::chrono::milliseconds> interrupt_after = std::nullopt) {
    auto command = CtlCommand(vhost, args, env);
    const auto dir = std::filesystem::temp_directory_path() / ("orderflowctl-it-" + NewId());
    std::filesystem::create_directories(dir);
    const int out_fd = ::open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open((dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE((out_fd >= 0 && err_fd >= 0));
    auto argv = Pointers(command.argv);
    auto envp = Pointers(command.envp);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        const int null_fd = ::open("/dev/null", O_RDONLY);
        ::dup2(null_fd, 0);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out_fd);
    ::close(err_fd);
    CtlRun run;
    run.exit = WaitChild(pid, 120s, interrupt_after);
    run.out = ReadFile(dir / "out");
    run.err = ReadFile(dir / "err");
    std::filesystem::remove_all(dir);
    UNSCOPED_INFO("orderflowctl exit " << run.exit << "\nstdout:\n"
                                       << run.out << "stderr:\n"
                                       << run.err);
    return run;
}

// Runs orderflowctl on a pseudo-terminal for `duration`, then Ctrl-C; returns what it drew.
CtlRun RunCtlOnTerminal(const Vhost& vhost, const std::vector<std::string>& args,
                        std::chrono::milliseconds duration) {
    auto command = CtlCommand(vhost, args, {});
    auto argv = Pointers(command.argv);
    auto envp = Pointers(command.envp);
    int master = -1;
    winsize size{};
    size.ws_row = 40;
    size.ws_col = 160;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
    CtlRun run;
    const auto read_available = [&] {
        char buffer[4096];
        ssize_t n = 0;
        while ((n = ::read(master, buffer, sizeof buffer)) > 0)
            run.out.append(buffer, static_cast<size_t>(n));
    };
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < deadline) {
        read_available();
        std::this_thread::sleep_for(20ms);
    }
    ::kill(pid, SIGINT);
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(pid, &status, WNOHANG) != pid; ++i) {
        read_available();
        std::this_thread::sleep_for(10ms);
    }
    read_available();
    ::close(master);
    run.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return run;
}

broker::QueueInfo Inspect(const Vhost& vhost, const broker::QueueName& queue) {
    auto client = ConnectBroker(vhost);
    auto info = client.Inspect(queue);
    REQUIRE(info);
    REQUIRE(info->has_value());
    return **info;
}
uint32_t Depth(const Vhost& vhost, const broker::QueueName& queue) {
    return Inspect(vhost, queue).messages;
}

// Every message of `queue`, looked at and put back (nothing removed).
std::vector<broker::Delivery> Browse(const Vhost& vhost, const broker::QueueName& queue) {
    auto client = ConnectBroker(vhost);
    std::vector<broker::Delivery> out;
    while (true) {
        auto got = client.Get(queue);
        REQUIRE(got);
        if (!got->has_value()) break;
        out.push_back(std::move(**got));
    }
    if (!out.empty()) REQUIRE(client.Nack(out.back().delivery_tag, true, true));
    return out;
}

std::multiset<std::string> IdsOf(const std::vector<broker::Delivery>& deliveries) {
    std::multiset<std::string> ids;
    for (const auto& d : deliveries) ids.insert(d.properties.message_id);
    return ids;
}

// The message ids the event stream (bound with # on `orders`) holds, from its start.
std::multiset<std::string> StreamIds(const Vhost& vhost) {
    auto client = ConnectBroker(vhost);
    REQUIRE(client.Consume(broker::kEventStream, 100, {{"x-stream-offset", "first"}}));
    std::multiset<std::string> ids;
    while (true) {
        auto next = client.Next(1500ms);
        REQUIRE(next);
        if (!next->has_value()) return ids;
        ids.insert((*next)->properties.message_id);
        REQUIRE(client.Ack((*next)->delivery_tag));
    }
}

size_t Count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
        ++n;
    return n;
}

bool Contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

struct Order {
    std::string order_id;
    std::string event_id;
};

std::vector<Order> PostOrders(uint16_t ingress_port, int count, const std::string& sku) {
    std::vector<Order> orders;
    for (int i = 0; i < count; ++i) {
        auto answer = PostOrder(ingress_port, "ctl" + std::to_string(i), {{sku, 1}});
        REQUIRE(answer.status == 202);
        orders.push_back({JsonField(answer.body, "order_id"), JsonField(answer.body, "event_id")});
    }
    return orders;
}

int64_t StockOf(uint16_t inventory_port, const std::string& sku) {
    const auto value = JsonField(HttpCall("GET", inventory_port, "/inventory").body, sku);
    return value.empty() ? -1 : std::stoll(value);
}

bool AllNotified(uint16_t ingress_port, const std::vector<Order>& orders) {
    for (const auto& order : orders) {
        const auto body = HttpCall("GET", ingress_port, "/orders/" + order.order_id).body;
        if (JsonField(body, "status") != "notified") return false;
    }
    return true;
}

// The key=value fields of the first line of `text` that contains `marker`.
std::map<std::string, std::string> LineFields(const std::string& text, const std::string& marker) {
    std::istringstream lines(text);
    std::string line;
    std::map<std::string, std::string> fields;
    while (std::getline(lines, line)) {
        if (!Contains(line, marker)) continue;
        std::istringstream words(line);
        std::string word;
        while (words >> word) {
            const auto eq = word.find('=');
            if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
        }
        return fields;
    }
    return fields;
}

// The whitespace-separated columns of the line of a table that starts with `first`.
std::vector<std::string> Columns(const std::string& text, const std::string& first) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::vector<std::string> columns;
        std::string word;
        while (words >> word) columns.push_back(word);
        if (!columns.empty() && columns.front() == first) return columns;
    }
    return {};
}

// The status --json entry of `queue`, as a small map of its numeric fields (-1: null).
std::map<std::string, int64_t> StatusEntry(const std::string& json, const std::string& queue) {
    rapidjson::Document document;
    document.Parse(json.c_str());
    std::map<std::string, int64_t> out;
    if (document.HasParseError() || !document.IsObject() || !document.HasMember("queues"))
        return out;
    for (const auto& entry : document["queues"].GetArray()) {
        if (std::string(entry["name"].GetString()) != queue) continue;
        for (const auto& member : entry.GetObject()) {
            if (member.value.IsInt64()) {
                out[member.name.GetString()] = member.value.GetInt64();
            } else if (member.value.IsNull()) {
                out[member.name.GetString()] = -1;
            }
        }
    }
    return out;
}

std::string OrderPlacedBody(const std::string& event_id, const std::string& user, int version) {
    return R"({"event_id":")" + event_id + R"(","event_type":"OrderPlaced","schema_version":)" +
           std::to_string(version) + R"(,"occurred_at":"2026-11-21T12:00:00.000Z","order_id":")" +
           events::NewUuid() + R"(","user_id":")" + user +
           R"(","items":[{"sku":"burger","quantity":1}]})";
}

}  // namespace

TEST_CASE("after the fault is gone, dlq replay brings every exhausted order to notified once",
          "[ctl]") {
    Pipeline p({{"ORDERFLOW_MAX_ATTEMPTS", "3"}, {"ORDERFLOW_RETRY_DELAYS_MS", "200,300"}},
               {{"ORDERFLOW_INJECT_FAIL_RATE", "1"}});
    p.StartAll();
    const auto stock_before = StockOf(p.inventory.Port(), "pizza");
    REQUIRE(stock_before > 6);
    const auto orders = PostOrders(p.ingress.Port(), 6, "pizza");
    REQUIRE(Eventually([&] { return Depth(p.vhost, kDlq) == orders.size(); }, 30s));

    // dlq show: the failure record of SPEC section 6 and a body preview, nothing removed.
    auto shown = RunCtl(p.vhost, {"dlq", "show", "inventory.order-placed", "--limit", "20"});
    REQUIRE(shown.exit == 0);
    CHECK(Contains(shown.out, "showing 6 dead letter(s)"));
    for (const char* line :
         {"kind=exhausted", "x-error-kind: exhausted",
          "x-error: ", "x-failed-queue: inventory.order-placed", "x-original-exchange: orders",
          "x-original-routing-key: order.placed", "x-attempts: 3", "x-first-failed-at: 20",
          "x-failed-at: 20", "x-consumer: inventory@", "traceparent: 00-", "body ("}) {
        INFO(line);
        CHECK(Count(shown.out, line) == orders.size());
    }
    for (const auto& order : orders) {
        CHECK(Contains(shown.out, "message_id=" + order.event_id + " type=OrderPlaced"));
        CHECK(Contains(shown.out, "\"order_id\":\"" + order.order_id + "\""));  // body preview
    }
    REQUIRE(Eventually([&] { return Depth(p.vhost, kDlq) == orders.size(); }, 10s));

    // The fault is gone: a healthy inventory consumer replaces the failing one.
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(30s).has_value());
    Service healthy("orderflow-inventory", p.env, p.dir);
    healthy.Start();
    REQUIRE(healthy.WaitReady());
    CHECK(StockOf(healthy.Port(), "pizza") == stock_before);  // the failed attempts changed nothing

    auto replay = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed.dlq"});
    REQUIRE(replay.exit == 0);
    CHECK(Count(replay.out, "replayed message_id=") == orders.size());
    for (const auto& order : orders) {
        CHECK(Contains(replay.out,
                       "replayed message_id=" + order.event_id +
                           " queue=inventory.order-placed kind=exhausted replay_count=1 at="));
    }
    CHECK(Contains(replay.out,
                   "summary queue=inventory.order-placed dlq=inventory.order-placed.dlq "
                   "examined=6 replayed=6 skipped=0 failed=0"));
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), orders); }, 30s));
    CHECK(Depth(p.vhost, kDlq) == 0);
    CHECK(StockOf(healthy.Port(), "pizza") == stock_before - static_cast<int64_t>(orders.size()));
    // The copies went to inventory's queue alone (default exchange), not to every queue bound
    // to order.placed: the event stream holds each order's event once.
    const auto stream = StreamIds(p.vhost);
    for (const auto& order : orders) CHECK(stream.count(order.event_id) == 1);
}

TEST_CASE("a replay killed between a confirm and its ack loses nothing - the rest replays later",
          "[ctl]") {
    Pipeline p({{"ORDERFLOW_MAX_ATTEMPTS", "1"}}, {{"ORDERFLOW_INJECT_FAIL_RATE", "1"}});
    p.StartAll();
    const auto stock_before = StockOf(p.inventory.Port(), "fries");
    constexpr size_t kOrders = 30;
    constexpr int kAbortAfter = 10;
    const auto orders = PostOrders(p.ingress.Port(), kOrders, "fries");
    REQUIRE(Eventually([&] { return Depth(p.vhost, kDlq) == kOrders; }, 30s));
    // No consumer on the work queue, so what the replay put there stays countable.
    p.inventory.Kill(SIGKILL);
    REQUIRE(p.inventory.Wait(10s).has_value());
    REQUIRE(Eventually([&] { return Inspect(p.vhost, kWork).consumers == 0; }, 10s));

    // The test hook SIGKILLs orderflowctl right after the 10th confirm, before its ack.
    auto killed = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed"},
                         {{"ORDERFLOW_CTL_TEST_ABORT_AFTER", std::to_string(kAbortAfter)}});
    CHECK(killed.exit == -SIGKILL);
    CHECK(Count(killed.out, "replayed message_id=") == kAbortAfter - 1);
    CHECK_FALSE(Contains(killed.out, "summary"));

    // Every dead letter is in the DLQ, in the work queue, or in both (the one whose ack the
    // kill prevented): a duplicate, which the consumer drops by message_id; nothing lost.
    REQUIRE(Eventually([&] { return Depth(p.vhost, kWork) + Depth(p.vhost, kDlq) == kOrders + 1; },
                       15s));
    const auto copies = Browse(p.vhost, kWork);
    for (const auto& copy : copies) {
        // A fresh attempt that remembers it was replayed, sent to this queue alone.
        CHECK(copy.properties.IntHeader("x-replay-count") == 1);
        CHECK_FALSE(copy.properties.IntHeader("x-attempts").has_value());
        CHECK(copy.properties.Header("x-error-kind") == nullptr);
        CHECK(copy.exchange.value.empty());
        CHECK(copy.routing_key.value == kWork.value);
        CHECK(*copy.properties.Header("x-original-routing-key") == "order.placed");
    }
    const auto in_work = IdsOf(copies);
    const auto in_dlq = IdsOf(Browse(p.vhost, kDlq));
    CHECK(in_work.size() == static_cast<size_t>(kAbortAfter));
    CHECK(in_dlq.size() == kOrders - kAbortAfter + 1);
    size_t in_both = 0;
    for (const auto& order : orders) {
        INFO(order.event_id);
        CHECK(in_work.count(order.event_id) + in_dlq.count(order.event_id) >= 1);
        in_both += in_work.contains(order.event_id) && in_dlq.contains(order.event_id) ? 1 : 0;
    }
    CHECK(in_both == 1);

    // A healthy consumer, then the rest of the replay: every order is applied exactly once.
    Service healthy("orderflow-inventory", p.env, p.dir);
    healthy.Start();
    REQUIRE(healthy.WaitReady());
    auto rest = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed"});
    REQUIRE(rest.exit == 0);
    CHECK(Count(rest.out, "replayed message_id=") == kOrders - kAbortAfter + 1);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), orders); }, 60s));
    REQUIRE(Eventually([&] { return Depth(p.vhost, kWork) == 0; }, 15s));
    CHECK(Depth(p.vhost, kDlq) == 0);
    CHECK(StockOf(healthy.Port(), "fries") == stock_before - static_cast<int64_t>(kOrders));
    for (const auto& order : orders) {
        const auto sent =
            HttpCall("GET", p.notification.Port(), "/notifications?order_id=" + order.order_id)
                .body;
        INFO(sent);
        CHECK(Count(sent, "\"order_id\"") == 1);
    }
}

TEST_CASE("a dead letter replayed 5 times stays in the DLQ unless --force", "[ctl]") {
    Pipeline p;
    p.StartAll();
    // Poison by hand: not JSON and no message_id at all.
    auto published = RunCtl(p.vhost, {"publish", "--routing-key", "order.placed", "--body",
                                      R"({"order_id": oops)", "--no-message-id"});
    REQUIRE(published.exit == 0);
    CHECK(Contains(published.out, "message_id=- routing_key=order.placed status=confirmed"));
    const auto replay_count = [&]() -> int64_t {
        const auto letters = Browse(p.vhost, kDlq);
        if (letters.size() != 1) return -1;
        return letters[0].properties.IntHeader("x-replay-count").value_or(0);
    };
    REQUIRE(Eventually([&] { return replay_count() == 0; }, 15s));

    // Each replay sends it back to inventory, which dead-letters it again at once.
    for (int i = 1; i <= 5; ++i) {
        auto replay = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed"});
        REQUIRE(replay.exit == 0);
        CHECK(Contains(replay.out,
                       "replayed message_id=- queue=inventory.order-placed kind=poison "
                       "replay_count=" +
                           std::to_string(i) + " at="));
        REQUIRE(Eventually([&] { return replay_count() == i; }, 15s));
    }
    auto guarded = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed"});
    CHECK(guarded.exit == 0);
    CHECK(Contains(guarded.out,
                   "skipped message_id=- queue=inventory.order-placed kind=poison "
                   "replay_count=5"));
    CHECK(Contains(guarded.out, "replayed=0 skipped=1"));
    std::this_thread::sleep_for(1s);
    CHECK(replay_count() == 5);  // still there, untouched

    auto forced = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed", "--force"});
    CHECK(forced.exit == 0);
    CHECK(Contains(forced.out, "replay_count=6 forced=true"));
    REQUIRE(Eventually([&] { return replay_count() == 6; }, 15s));
}

TEST_CASE("poison published with orderflowctl is listed, shown, filtered and purged", "[ctl]") {
    Pipeline p;
    p.StartAll();
    const auto schema_id = events::NewUuid();
    const auto version_id = events::NewUuid();
    const auto dir = p.dir / "bodies";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "v2.json") << OrderPlacedBody(version_id, "u", 2);
    REQUIRE(RunCtl(p.vhost, {"publish", "--routing-key", "order.placed", "--body",
                             "not json at all", "--no-message-id"})
                .exit == 0);
    REQUIRE(RunCtl(p.vhost, {"publish", "--routing-key", "order.placed", "--body",
                             OrderPlacedBody(schema_id, "", 1)})
                .exit == 0);
    auto from_file = RunCtl(p.vhost, {"publish", "--routing-key", "order.placed", "--file",
                                      (dir / "v2.json").string()});
    REQUIRE(from_file.exit == 0);
    CHECK(Contains(from_file.out, "message_id=" + version_id));  // the body's event_id
    REQUIRE(Eventually([&] { return Depth(p.vhost, kDlq) == 3; }, 15s));

    auto list = RunCtl(p.vhost, {"dlq", "list"});
    REQUIRE(list.exit == 0);
    CHECK(Columns(list.out, "inventory.order-placed.dlq") ==
          std::vector<std::string>{"inventory.order-placed.dlq", "3"});
    CHECK(Columns(list.out, "notification.inventory-events.dlq") ==
          std::vector<std::string>{"notification.inventory-events.dlq", "0"});
    CHECK(Columns(list.out, "ingress.order-status.dlq") ==
          std::vector<std::string>{"ingress.order-status.dlq", "0"});
    auto list_json = RunCtl(p.vhost, {"dlq", "list", "--json"});
    CHECK(Contains(
        list_json.out,
        R"({"queue":"inventory.order-placed","dlq":"inventory.order-placed.dlq","messages":3})"));

    auto shown = RunCtl(p.vhost, {"dlq", "show", "inventory.order-placed.dlq", "--limit", "2"});
    REQUIRE(shown.exit == 0);
    CHECK(Contains(shown.out, "showing 2 dead letter(s)"));
    CHECK(Count(shown.out, "kind=poison") == 2);
    CHECK(Count(shown.out, "x-attempts: 1\n") == 2);
    CHECK(Contains(shown.out, "[1] message_id=- type=- kind=poison"));
    CHECK(Contains(shown.out, "body (15 bytes): not json at all\n"));
    CHECK(Contains(shown.out, "[2] message_id=" + schema_id + " type=OrderPlaced kind=poison"));
    auto shown_json = RunCtl(p.vhost, {"dlq", "show", "inventory.order-placed", "--json"});
    REQUIRE(shown_json.exit == 0);
    CHECK(Count(shown_json.out, R"("kind":"poison")") == 3);
    CHECK(Contains(shown_json.out, R"("message_id":")" + version_id + "\""));
    CHECK(Contains(shown_json.out, R"("x-error-kind":"poison")"));
    CHECK(Contains(shown_json.out, R"("x-attempts":1)"));
    REQUIRE(
        Eventually([&] { return Depth(p.vhost, kDlq) == 3; }, 10s));  // browsing removed nothing

    // Filters that match nothing replay nothing.
    auto none = RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed", "--kind", "exhausted"});
    CHECK(none.exit == 0);
    CHECK(Contains(none.out, "examined=3 replayed=0 skipped=0 failed=0 not_selected=3"));
    auto unknown =
        RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed", "--message-id", "nope"});
    CHECK(unknown.exit == 1);
    REQUIRE(Eventually([&] { return Depth(p.vhost, kDlq) == 3; }, 10s));

    // Usage errors exit 2 and change nothing.
    auto refused = RunCtl(p.vhost, {"dlq", "purge", "inventory.order-placed"});
    CHECK(refused.exit == 2);
    CHECK(Contains(refused.err, "--yes"));
    CHECK(RunCtl(p.vhost, {"dlq", "show", "no-such-queue"}).exit == 2);
    CHECK(RunCtl(p.vhost, {"dlq", "replay", "inventory.order-placed", "--kind", "weird"}).exit ==
          2);
    CHECK(RunCtl(p.vhost, {"dlq"}).exit == 2);
    CHECK(Depth(p.vhost, kDlq) == 3);

    auto purged = RunCtl(p.vhost, {"dlq", "purge", "inventory.order-placed", "--yes"});
    CHECK(purged.exit == 0);
    CHECK(Contains(purged.out, "purged 3 message(s) from inventory.order-placed.dlq"));
    CHECK(Depth(p.vhost, kDlq) == 0);
}

TEST_CASE("topology check passes after declare and fails when a queue is missing", "[ctl]") {
    Vhost vhost;
    auto empty = RunCtl(vhost, {"topology", "check"});
    CHECK(empty.exit == 1);
    CHECK(Contains(empty.out, "missing exchange orders\n"));
    CHECK(Contains(empty.out, "missing queue inventory.order-placed\n"));

    REQUIRE(RunCtl(vhost, {"topology", "declare"}).exit == 0);
    auto ok = RunCtl(vhost, {"topology", "check"});
    CHECK(ok.exit == 0);
    CHECK(Contains(ok.out, "topology ok"));

    {
        auto client = ConnectBroker(vhost);
        REQUIRE(client.DeleteQueue(broker::QueueName{"notification.inventory-events.dlq"}));
    }
    auto broken = RunCtl(vhost, {"topology", "check"});
    CHECK(broken.exit == 1);
    CHECK(Contains(broken.out, "missing queue notification.inventory-events.dlq\n"));
    CHECK(Count(broken.out, "missing ") == 1);

    REQUIRE(RunCtl(vhost, {"topology", "declare"}).exit == 0);
    CHECK(RunCtl(vhost, {"topology", "check"}).exit == 0);
    CHECK(RunCtl(vhost, {"topology"}).exit == 2);
    CHECK(RunCtl(vhost, {"topology", "check", "--retry-delays-ms", "soon"}).exit == 2);
}

TEST_CASE("status shows the backlog of a queue whose consumer is down, and its drain", "[ctl]") {
    Pipeline p;
    p.StartAll();
    p.inventory.Kill(SIGKILL);
    REQUIRE(p.inventory.Wait(10s).has_value());
    constexpr int64_t kOrders = 7;
    PostOrders(p.ingress.Port(), kOrders, "soda");

    // --json: exact depths (passive declares) for each contract queue.
    CtlRun json;
    REQUIRE(Eventually(
        [&] {
            json = RunCtl(p.vhost, {"status", "--json"});
            auto inventory = StatusEntry(json.out, "inventory.order-placed");
            return json.exit == 0 && inventory["ready"] == kOrders && inventory["consumers"] == 0;
        },
        15s, 500ms));
    for (const char* queue :
         {"inventory.order-placed", "notification.inventory-events", "ingress.order-status"}) {
        INFO(queue);
        auto entry = StatusEntry(json.out, queue);
        for (const char* field : {"ready", "unacked", "consumers", "dlq_ready", "retry_ready"}) {
            INFO(field);
            CHECK(entry.contains(field));
            CHECK(entry[field] >= 0);  // known: the management API answered
        }
        CHECK(entry["dlq_ready"] == 0);
    }
    CHECK(StatusEntry(json.out, "notification.inventory-events")["consumers"] == 1);
    CHECK(StatusEntry(json.out, "ingress.order-status")["consumers"] == 1);

    // Not a terminal: one key=value line per queue.
    auto plain = RunCtl(p.vhost, {"status"});
    REQUIRE(plain.exit == 0);
    auto line = LineFields(plain.out, "queue=inventory.order-placed ");
    CHECK(line["ready"] == std::to_string(kOrders));
    CHECK(line["consumers"] == "0");
    CHECK(line["dlq"] == "0");
    CHECK(LineFields(plain.out, "queue=ingress.order-status ")["consumers"] == "1");
    CHECK_FALSE(Contains(plain.out, "\x1b"));

    // --watch on a pipe: a set of lines per sample, no terminal codes, Ctrl-C ends it with 0.
    auto watch = RunCtl(p.vhost, {"status", "--watch", "--interval", "0.3"}, {}, 2500ms);
    CHECK(watch.exit == 0);
    CHECK(Count(watch.out, "queue=inventory.order-placed ready=7 ") >= 3);
    CHECK_FALSE(Contains(watch.out, "\x1b"));

    // --watch on a terminal: the table redrawn in place with a bar of the backlog.
    auto screen = RunCtlOnTerminal(p.vhost, {"status", "--watch", "--interval", "0.3"}, 2s);
    CHECK(screen.exit == 0);
    CHECK(Count(screen.out, "\x1b[H") >= 3);  // cursor home before each frame
    CHECK(Contains(screen.out, "backlog (ready+unacked)"));
    CHECK(Contains(screen.out, "|" + std::string(40, '#') + "| 7"));  // the largest backlog: full

    // The consumer comes back: the backlog drains.
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(Eventually(
        [&] {
            const auto entry =
                StatusEntry(RunCtl(p.vhost, {"status", "--json"}).out, "inventory.order-placed");
            return entry.contains("ready") && entry.at("ready") == 0 && entry.at("consumers") == 1;
        },
        30s, 500ms));
}

TEST_CASE("an older topology is refused with TOPOLOGY_MISMATCH and migrated keeping its messages",
          "[ctl][topology]") {
    Vhost vhost;
    broker::ConnectionOptions options;
    options.url = vhost.AmqpUrl();
    auto client = ConnectBroker(vhost);
    // The topology of the previous release: no at-least-once dead-lettering on the work
    // queue, classic delay queues; with messages waiting in both.
    REQUIRE(client.DeclareQueue(kWork, {{"x-queue-type", "quorum"},
                                        {"x-delivery-limit", broker::kDeliveryLimit},
                                        {"x-dead-letter-exchange", "orders.dlx"},
                                        {"x-dead-letter-routing-key", kWork.value}}));
    const broker::QueueName retry{"inventory.order-placed.retry.1"};
    REQUIRE(client.DeclareQueue(retry, {{"x-queue-type", "classic"},
                                        {"x-dead-letter-exchange", ""},
                                        {"x-dead-letter-routing-key", kWork.value}}));
    for (int i = 0; i < 3; ++i) {
        broker::OutgoingMessage message;
        message.routing_key = broker::RoutingKey{kWork.value};
        message.properties.message_id = fmt::format("old-{}", i);
        message.body = fmt::format(R"({{"n":{}}})", i);
        REQUIRE(client.Publish(message) == broker::PublishStatus::kConfirmed);
    }
    broker::OutgoingMessage waiting;
    waiting.routing_key = broker::RoutingKey{retry.value};
    waiting.properties.message_id = "old-waiting";
    waiting.properties.expiration = "600000";
    waiting.body = "{}";
    REQUIRE(client.Publish(waiting) == broker::PublishStatus::kConfirmed);

    const auto topology = broker::ContractTopology(3);
    auto refused = broker::DeclareTopology(options, topology);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error(), Catch::StartsWith("TOPOLOGY_MISMATCH") &&
                                    Catch::Contains("'inventory.order-placed'") &&
                                    Catch::Contains("x-dead-letter-strategy") &&
                                    Catch::Contains("orderflowctl topology migrate"));
    {
        // A service meeting it stays up, not ready, and its /readyz names the queue and the
        // argument (not only its log).
        const auto dir = std::filesystem::temp_directory_path() / ("orderflow-mismatch-" + NewId());
        std::filesystem::create_directories(dir);
        Service inventory(
            "orderflow-inventory",
            {{"ORDERFLOW_AMQP_URL", vhost.AmqpUrl()}, {"ORDERFLOW_DATA_DIR", dir.string()}}, dir);
        inventory.Start();
        HttpResult ready;
        CHECK(Eventually(
            [&] {
                ready = HttpCall("GET", inventory.Port(), "/readyz", {}, {}, 2s);
                return ready.body.find("TOPOLOGY_MISMATCH") != std::string::npos;
            },
            30s, 200ms));
        CHECK(ready.status == 503);
        CHECK_THAT(ready.body, Catch::Contains(R"("problems":{"broker":"TOPOLOGY_MISMATCH)") &&
                                   Catch::Contains("'inventory.order-placed'") &&
                                   Catch::Contains("x-dead-letter-strategy"));
        CHECK(inventory.Running());
        inventory.Kill(SIGKILL);
        inventory.Wait(10s);
        std::filesystem::remove_all(dir);
    }

    auto migrated = RunCtl(vhost, {"topology", "migrate"});
    INFO(migrated.out << migrated.err);
    REQUIRE(migrated.exit == 0);
    CHECK_THAT(migrated.out, Catch::Contains("inventory.order-placed: recreated") &&
                                 Catch::Contains("3 message(s) moved back"));

    REQUIRE(broker::DeclareTopology(options, topology));
    auto checked = broker::CheckTopology(options, topology);
    REQUIRE(checked);
    CHECK(checked->missing.empty());
    client = ConnectBroker(vhost);  // the old channel saw the queues deleted
    auto work = client.Inspect(kWork);
    REQUIRE(work);
    REQUIRE(*work);
    CHECK((*work)->messages == 3);
    auto delayed = client.Inspect(retry);
    REQUIRE(delayed);
    REQUIRE(*delayed);
    CHECK((*delayed)->messages == 1);
    auto holding = client.Inspect(broker::QueueName{kWork.value + ".migrating"});
    REQUIRE(holding);
    CHECK_FALSE(*holding);
    std::set<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        auto got = client.Get(kWork);
        REQUIRE(got);
        REQUIRE(*got);
        ids.insert((*got)->properties.message_id);
        CHECK((*got)->body ==
              fmt::format(R"({{"n":{}}})", (*got)->properties.message_id.back() - '0'));
    }
    CHECK(ids == std::set<std::string>{"old-0", "old-1", "old-2"});
}

TEST_CASE(
    "status counts the stream's messages from its offsets, and marks the broker's stale count",
    "[ctl]") {
    Pipeline p;
    REQUIRE(RunCtl(p.vhost, {"topology", "declare"}).exit == 0);
    auto broker = ConnectBroker(p.vhost);
    // Events only the stream takes (bound with '#'), each batch checked the moment it is
    // confirmed: RabbitMQ 3.10's own count of a stream lags by a refresh interval or more.
    const auto publish = [&](int count) {
        for (int i = 0; i < count; ++i) {
            REQUIRE(broker.Publish(RawEvent("test.stream-count", "{}")) ==
                    broker::PublishStatus::kConfirmed);
        }
    };
    int64_t total = 0;
    for (const int batch : {300, 200}) {
        publish(batch);
        total += batch;
        const auto run = RunCtl(p.vhost, {"status", "--json"});
        REQUIRE(run.exit == 0);
        rapidjson::Document doc;
        doc.Parse(run.out.c_str());
        REQUIRE_FALSE(doc.HasParseError());
        REQUIRE(doc.HasMember("stream"));
        const auto& stream = doc["stream"];
        CHECK(stream["messages"].GetInt64() == total);
        CHECK(std::string(stream["source"].GetString()) == "stream");
        CHECK(stream["first_offset"].GetInt64() == 0);
        CHECK(stream["last_offset"].GetInt64() == total - 1);
        // The broker's figure is shown beside it, flagged when it disagrees.
        if (stream["broker_messages"].IsInt64()) {
            CHECK(stream["broker_messages_stale"].GetBool() ==
                  (stream["broker_messages"].GetInt64() != total));
        }
        // The line format says the same.
        const auto plain = RunCtl(p.vhost, {"status"});
        CHECK(plain.out.find(fmt::format("stream=orders.events messages={} source=stream "
                                         "first_offset=0 last_offset={}",
                                         total, total - 1)) != std::string::npos);
    }
}

// SPEC section 9: each process tries a cluster's nodes in an order shuffled at its start.
// Three loopback ports nothing listens on: the refusal lists the nodes in the order tried.
TEST_CASE("each process starts on a node of its own shuffle of a node list, unless seeded",
          "[ctl][nodes]") {
    const auto first_node = [](const std::string& seed) {
        const std::string command =
            (seed.empty() ? std::string("env -u ORDERFLOW_AMQP_SHUFFLE_SEED ")
                          : "env ORDERFLOW_AMQP_SHUFFLE_SEED=" + seed + " ") +
            "'" + ORDERFLOW_BIN_DIR +
            "/orderflowctl' --amqp-url "
            "'amqp://u:p@127.0.0.1:1/%2f,amqp://u:p@127.0.0.1:2/%2f,amqp://u:p@127.0.0.1:3/%2f' "
            "topology check 2>&1";
        FILE* pipe = ::popen(command.c_str(), "r");
        REQUIRE(pipe != nullptr);
        std::string out;
        char buffer[4096];
        while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
        ::pclose(pipe);
        const std::string tried = "accepted the connection: cannot connect to 127.0.0.1:";
        const auto at = out.find(tried);
        INFO(out);
        REQUIRE(at != std::string::npos);
        return out.substr(at + tried.size(), 1);
    };
    // Twelve processes all starting on one node by chance: 3 x (1/3)^12, about 6 in a million.
    std::map<std::string, int> firsts;
    for (int i = 0; i < 12; ++i) ++firsts[first_node("")];
    INFO("first nodes: " << fmt::format("{}", fmt::join(firsts, ", ")));
    CHECK(firsts.size() >= 2);
    // A seed makes the order reproducible.
    const auto seeded = first_node("42");
    for (int i = 0; i < 3; ++i) CHECK(first_node("42") == seeded);
}
