// Secure transport and least privilege (SPEC section 11), end to end against a TLS-only
// RabbitMQ node that the ctest fixture "security broker" starts (test/security/
// tls_broker.sh, scripts/broker.sh start --tls). Each test makes its own vhost and broker
// users with `scripts/broker.sh users`, runs the real service binaries over amqps:// under
// those users, and checks what the broker refuses, what the services say about it, and
// that no secret shows anywhere an operator looks.
#include <fcntl.h>
#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "support.hpp"

extern char** environ;

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path kBrokerDir = ORDERFLOW_SECURITY_BROKER_DIR;
const std::string kBin = ORDERFLOW_BIN_DIR;

struct Run {
    int exit = -1000;
    std::string out;
    std::string err;
};

std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::filesystem::path TempDir(std::string_view what) {
    auto dir = std::filesystem::temp_directory_path() /
               (std::string("orderflow-sec-") + std::string(what) + "-" + NewId());
    std::filesystem::create_directories(dir);
    return dir;
}

// Runs argv with the environment plus `env`, stdout and stderr captured; FAILs after 120 s.
Run RunProcess(const std::vector<std::string>& argv_in,
               const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = argv_in, envs;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        if (!env.contains(entry.substr(0, entry.find('=')))) envs.push_back(entry);
    }
    for (const auto& [name, value] : env) envs.push_back(name + "=" + value);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    const auto dir = TempDir("run");
    const int out_fd = ::open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err_fd = ::open((dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE((out_fd >= 0 && err_fd >= 0));
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out_fd);
    ::close(err_fd);
    Run run;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (true) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            run.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            FAIL(argv_in.front() << " did not finish in 120 s");
        }
        std::this_thread::sleep_for(20ms);
    }
    run.out = ReadFile(dir / "out");
    run.err = ReadFile(dir / "err");
    std::filesystem::remove_all(dir);
    UNSCOPED_INFO(argv_in.front() << " exit " << run.exit << "\nstdout:\n"
                                  << run.out << "stderr:\n"
                                  << run.err);
    return run;
}

// A vhost of its own on the TLS node with the users of `scripts/broker.sh users` (one per
// service with the permissions of SPEC section 11, an administrator) and the topology
// declared by that administrator.
struct SecureVhost {
    SecureVhost() : name("sec-" + NewId().substr(0, 8)) {
        auto made = RunProcess(
            {std::string(ORDERFLOW_SOURCE_DIR) + "/scripts/broker.sh", "users", "--dir",
             kBrokerDir.string(), "--vhost", name},
            {{"ORDERFLOW_CTL", kBin + "/orderflowctl"}, {"ORDERFLOW_SKIP_PACKAGES", "1"}});
        REQUIRE(made.exit == 0);
        std::istringstream lines(made.out);
        for (std::string line; std::getline(lines, line);) {
            if (!line.starts_with("export ")) continue;
            const auto eq = line.find('=');
            std::string value;
            for (char c : line.substr(eq + 1)) {
                if (c != '\\' && c != '\'') value += c;  // bash's %q quoting
            }
            urls[line.substr(7, eq - 7)] = value;
        }
        ca = urls.at("ORDERFLOW_AMQP_CA_FILE");
        REQUIRE(urls.contains("ORDERFLOW_INVENTORY_AMQP_URL"));
        const auto env = ReadFile(kBrokerDir / ("users-orderflow-" + name + ".env"));
        std::istringstream env_lines(env);
        for (std::string line; std::getline(env_lines, line);) {
            if (line.find("_PASSWORD=") != std::string::npos) {
                passwords.push_back(line.substr(line.find('=') + 1));
            }
        }
        REQUIRE(passwords.size() == 6);
    }
    std::string Url(const std::string& who) const {
        return urls.at("ORDERFLOW_" + who + "_AMQP_URL");
    }
    // The environment of a service running as broker user `who` (INGRESS, ADMIN, ...).
    std::map<std::string, std::string> Env(const std::string& who,
                                           const std::filesystem::path& dir) const {
        return {{"ORDERFLOW_AMQP_URL", Url(who)},
                {"ORDERFLOW_AMQP_CA_FILE", ca},
                {"ORDERFLOW_DATA_DIR", dir.string()},
                {"ORDERFLOW_RETRY_DELAYS_MS", "200"}};
    }
    // The management API of the TLS node over https, as the administrator.
    std::string MgmtUrl() const {
        std::string port;
        std::istringstream ports(ReadFile(kBrokerDir / "ports.env"));
        for (std::string line; std::getline(ports, line);) {
            if (line.starts_with("ORDERFLOW_BROKER_MGMT_PORT=")) port = line.substr(27);
        }
        const auto admin = Url("ADMIN");
        return "https://" + admin.substr(8, admin.find('@') - 8) + "@localhost:" + port;
    }
    broker::Client Admin() const {
        broker::ConnectionOptions options;
        options.url = Url("ADMIN");
        options.tls_ca_file = ca;
        auto client = broker::Client::Connect(options);
        REQUIRE(client);
        return std::move(*client);
    }

    std::string name;
    std::string ca;
    std::map<std::string, std::string> urls;
    std::vector<std::string> passwords;
};

// The three pipeline services and analytics, each under its own broker user; `extra`
// (API keys, the admin token) goes to the ingress and analytics.
struct SecurePipeline {
    SecurePipeline(const SecureVhost& vhost, const std::filesystem::path& dir,
                   const std::map<std::string, std::string>& extra = {})
        : inventory("orderflow-inventory", vhost.Env("INVENTORY", dir), dir),
          notification("orderflow-notification", vhost.Env("NOTIFICATION", dir), dir),
          ingress("orderflow-ingress", Merge(vhost.Env("INGRESS", dir), extra), dir),
          // The console reads the management API (SPEC section 10): as the administrator;
          // its dead letters under the console's broker user.
          analytics("orderflow-analytics",
                    Merge(Merge(vhost.Env("ANALYTICS", dir),
                                {{"ORDERFLOW_MGMT_URL", vhost.MgmtUrl()},
                                 {"ORDERFLOW_CONSOLE_AMQP_URL", vhost.Url("CONSOLE")}}),
                          extra),
                    dir) {}
    static std::map<std::string, std::string> Merge(std::map<std::string, std::string> a,
                                                    const std::map<std::string, std::string>& b) {
        for (const auto& [k, v] : b) a[k] = v;
        return a;
    }
    void StartAll() {
        for (auto* service : {&inventory, &notification, &ingress, &analytics}) service->Start();
        for (auto* service : {&inventory, &notification, &ingress, &analytics}) {
            REQUIRE(service->WaitReady(60s));
        }
    }
    Service inventory, notification, ingress, analytics;
};

std::vector<std::string> PostOrders(uint16_t port, int count, const std::string& user,
                                    const std::string& key = {}) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
        auto answer = PostOrder(port, user, {{"burger", 1}}, headers);
        REQUIRE(answer.status == 202);
        ids.push_back(JsonField(answer.body, "order_id"));
    }
    return ids;
}

}  // namespace

TEST_CASE("over amqps with one broker user per service, 200 orders are all notified",
          "[security][tls]") {
    SecureVhost vhost;
    const auto dir = TempDir("tls");
    SecurePipeline pipeline(vhost, dir);
    pipeline.StartAll();
    // 100 burgers in stock: 100 orders reserved, 100 rejected, all 200 notified.
    const auto ids = PostOrders(pipeline.ingress.Port(), 200, "tls-user");
    CHECK(Eventually([&] { return AllNotified(pipeline.ingress.Port(), ids); }, 90s, 250ms));
    CHECK_THAT(HttpCall("GET", pipeline.inventory.Port(), "/inventory").body,
               Catch::Contains(R"("burger":0)"));

    // orderflowctl status reads the management API over https, verified with the same CA.
    auto status =
        RunProcess({kBin + "/orderflowctl", "--amqp-url", vhost.Url("ADMIN"), "--amqp-ca-file",
                    vhost.ca, "--mgmt-url", vhost.MgmtUrl(), "status", "--json"});
    CHECK(status.exit == 0);
    CHECK_THAT(status.out, Catch::Contains(R"("unacked":0)"));
    CHECK_THAT(status.err, !Catch::Contains("rates unknown"));
    std::filesystem::remove_all(dir);
}

TEST_CASE(
    "a client that trusts another CA, or names the broker by a name its certificate "
    "lacks, is refused and told why",
    "[security][tls]") {
    SecureVhost vhost;
    const auto other = TempDir("other-ca");
    auto made = RunProcess({"/bin/bash", "-c",
                            "source \"$0\"/scripts/lib.sh && make_broker_certs \"$1\" localhost",
                            ORDERFLOW_SOURCE_DIR, other.string()});
    REQUIRE(made.exit == 0);
    const auto ctl = kBin + "/orderflowctl";
    const auto admin = vhost.Url("ADMIN");

    auto trusted =
        RunProcess({ctl, "--amqp-url", admin, "--amqp-ca-file", vhost.ca, "topology", "check"});
    CHECK(trusted.exit == 0);

    auto other_ca = RunProcess({ctl, "--amqp-url", admin, "--amqp-ca-file",
                                (other / "ca.pem").string(), "topology", "check"});
    CHECK(other_ca.exit == 1);
    CHECK_THAT(other_ca.err, Catch::Contains("certificate") && Catch::Contains("not signed"));

    // The certificate names localhost only: 127.0.0.1 is the same socket, but another name.
    std::string by_address = admin;
    by_address.replace(by_address.find("@localhost:"), 11, "@127.0.0.1:");
    auto wrong_name = RunProcess(
        {ctl, "--amqp-url", by_address, "--amqp-ca-file", vhost.ca, "topology", "check"});
    CHECK(wrong_name.exit == 1);
    CHECK_THAT(wrong_name.err, Catch::Contains("host name") && Catch::Contains("127.0.0.1"));

    // Plain AMQP to the TLS port gets no answer it can use; the service says it cannot connect.
    std::string plain = admin;
    plain.replace(0, 5, "amqp");
    auto clear = RunProcess({ctl, "--amqp-url", plain, "topology", "check"});
    CHECK(clear.exit == 1);
    for (const auto& run : {other_ca, wrong_name, clear}) {
        for (const auto& password : vhost.passwords)
            CHECK_THAT(run.err, !Catch::Contains(password));
    }
    std::filesystem::remove_all(other);
}

TEST_CASE(
    "a service without configure permission stays up and not ready naming what is "
    "missing, and becomes ready once an administrator declares the topology",
    "[security][users]") {
    SecureVhost vhost;
    const auto dir = TempDir("passive");
    {
        auto admin = vhost.Admin();
        REQUIRE(admin.DeleteQueue(broker::kInventoryQueue));
        REQUIRE(admin.DeleteQueue(broker::DeadLetterQueue(broker::kInventoryQueue)));
    }
    Service inventory("orderflow-inventory", vhost.Env("INVENTORY", dir), dir);
    inventory.Start();
    CHECK(Eventually(
        [&] {
            const auto log = inventory.Log();
            return log.find("missing queue inventory.order-placed,") != std::string::npos &&
                   log.find("queue inventory.order-placed.dlq") != std::string::npos;
        },
        20s));
    CHECK_THAT(inventory.Log(), Catch::Contains("no configure permission"));
    CHECK(inventory.Running());
    // /readyz names it too, for whoever probes the service without its log.
    const auto not_ready = HttpCall("GET", inventory.Port(), "/readyz");
    CHECK(not_ready.status == 503);
    CHECK_THAT(not_ready.body,
               Catch::Contains(R"("problems":{"broker":"the topology is incomplete)") &&
                   Catch::Contains("no configure permission") &&
                   Catch::Contains("missing queue inventory.order-placed, queue "
                                   "inventory.order-placed.dlq") &&
                   Catch::Contains("orderflowctl topology declare"));
    for (const auto& password : vhost.passwords) {
        CHECK_THAT(not_ready.body, !Catch::Contains(password));
    }
    CHECK(HttpCall("GET", inventory.Port(), "/healthz").status == 200);

    auto declared = RunProcess({kBin + "/orderflowctl", "--amqp-url", vhost.Url("ADMIN"),
                                "--amqp-ca-file", vhost.ca, "topology", "declare"},
                               {{"ORDERFLOW_RETRY_DELAYS_MS", "200"}});
    REQUIRE(declared.exit == 0);
    CHECK(inventory.WaitReady(30s));
    CHECK_THAT(HttpCall("GET", inventory.Port(), "/readyz").body, !Catch::Contains("problems"));
    // It consumes its queue now, still without having declared anything itself.
    auto admin = vhost.Admin();
    auto info = admin.Inspect(broker::kInventoryQueue);
    REQUIRE(info);
    REQUIRE(info->has_value());
    CHECK((*info)->consumers == 1);
    std::filesystem::remove_all(dir);
}

TEST_CASE(
    "a service run as a broker user that is not its own is refused by the broker and "
    "says so, without exiting",
    "[security][users]") {
    SecureVhost vhost;
    const auto dir = TempDir("denied");
    // Notification's queue under inventory's user: reading it is not inventory's right.
    Service notification("orderflow-notification", vhost.Env("INVENTORY", dir / "n"), dir / "n");
    // The ingress under analytics' user, which may write to no exchange at all.
    Service ingress("orderflow-ingress", vhost.Env("ANALYTICS", dir / "i"), dir / "i");
    notification.Start();
    ingress.Start();
    CHECK(Eventually(
        [&] {
            const auto log = notification.Log();
            // Its passive topology check passed; consuming is what the broker refuses.
            return log.find(
                       "cannot consume from queue 'notification.inventory-events': "
                       "channel closed by the broker: 403 ACCESS_REFUSED") != std::string::npos;
        },
        20s));
    // Connected (its passive topology check passed), then refused at publishing, not at
    // declaring. Orders are posted until one reaches the broker; each is answered 503.
    REQUIRE(Eventually(
        [&] { return ingress.Log().find("publisher connected") != std::string::npos; }, 30s));
    std::vector<int> statuses;
    CHECK(Eventually(
        [&] {
            statuses.push_back(PostOrder(ingress.Port(), "u", {{"burger", 1}}).status);
            const auto log = ingress.Log();
            return log.find("ACCESS_REFUSED - access to exchange 'orders'") != std::string::npos;
        },
        30s, 500ms));
    for (const int status : statuses) CHECK(status == 503);
    std::this_thread::sleep_for(2s);
    CHECK(notification.Running());
    CHECK(ingress.Running());
    CHECK(HttpCall("GET", notification.Port(), "/readyz").status == 503);
    std::filesystem::remove_all(dir);
}

// The members of the entry of `dlq` in the console's /api/dead-letters.
std::optional<rapidjson::Document> ConsoleDlq(const Service& analytics, const std::string& dlq) {
    const auto answer = HttpCall("GET", analytics.Port(), "/api/dead-letters");
    if (answer.status != 200) return std::nullopt;
    rapidjson::Document doc;
    if (doc.Parse(answer.body.c_str()).HasParseError()) return std::nullopt;
    for (const auto& entry : doc["dlqs"].GetArray()) {
        if (dlq != entry["dlq"].GetString()) continue;
        rapidjson::Document one;
        one.CopyFrom(entry, one.GetAllocator());
        return one;
    }
    return std::nullopt;
}

TEST_CASE(
    "the console browses, replays and purges dead letters as a broker user of its own, "
    "which may do nothing else",
    "[security][users]") {
    SecureVhost vhost;
    const auto dir = TempDir("console-user");
    const std::string token = "it-console-token-Vb7Xq2Lm";
    SecurePipeline pipeline(vhost, dir, {{"ORDERFLOW_ADMIN_TOKEN", token}});
    pipeline.StartAll();
    auto admin = vhost.Admin();
    const auto poison = RawEvent("order.placed", "{not json");
    REQUIRE(admin.Publish(poison) == broker::PublishStatus::kConfirmed);
    const std::string dlq = "inventory.order-placed.dlq";
    // analytics' own user may not read a DLQ: the console browses it as its own user.
    std::optional<rapidjson::Document> entry;
    REQUIRE(Eventually(
        [&] {
            entry = ConsoleDlq(pipeline.analytics, dlq);
            return entry && (*entry)["messages"].GetInt64() == 1 &&
                   (*entry)["browsed"].GetInt() == 1;
        },
        30s, 250ms));
    CHECK((*entry)["error"].IsNull());

    const std::vector<std::pair<std::string, std::string>> headers{
        {"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
    const std::string body = R"({"queue":"inventory.order-placed"})";
    const auto replayed =
        HttpCall("POST", pipeline.analytics.Port(), "/api/dead-letters/replay", body, headers);
    INFO(replayed.body);
    CHECK(replayed.status == 200);
    CHECK_THAT(replayed.body, Catch::Contains(R"("replayed":1)"));
    // The poison fails again in inventory and is back: replayed once, then purged.
    CHECK(Eventually(
        [&] {
            auto back = admin.Inspect(broker::QueueName{dlq});
            return back && back->has_value() && (*back)->messages == 1;
        },
        30s, 250ms));

    // A console left on analytics' user (the variable empty, as if unset) shows the broker's
    // refusal and what to set, and its purge is refused without touching the DLQ.
    Service plain("orderflow-analytics",
                  SecurePipeline::Merge(vhost.Env("ANALYTICS", dir / "plain"),
                                        {{"ORDERFLOW_MGMT_URL", vhost.MgmtUrl()},
                                         {"ORDERFLOW_ADMIN_TOKEN", token},
                                         {"ORDERFLOW_CONSOLE_AMQP_URL", ""}}),
                  dir / "plain");
    plain.Start();
    REQUIRE(plain.WaitReady(60s));
    std::string refusal;
    CHECK(Eventually(
        [&] {
            auto shown = ConsoleDlq(plain, dlq);
            if (!shown || !(*shown)["error"].IsString()) return false;
            refusal = (*shown)["error"].GetString();
            return true;
        },
        20s, 250ms));
    CHECK_THAT(refusal,
               Catch::Contains("ACCESS_REFUSED") && Catch::Contains("ORDERFLOW_CONSOLE_AMQP_URL"));
    const auto refused = HttpCall("POST", plain.Port(), "/api/dead-letters/purge", body, headers);
    CHECK(refused.status == 503);
    CHECK_THAT(refused.body, Catch::Contains("refused the console's broker user") &&
                                 Catch::Contains("ORDERFLOW_CONSOLE_AMQP_URL"));
    auto held = admin.Inspect(broker::QueueName{dlq});
    REQUIRE(held);
    REQUIRE(held->has_value());
    CHECK((*held)->messages == 1);
    const auto purged =
        HttpCall("POST", pipeline.analytics.Port(), "/api/dead-letters/purge", body, headers);
    INFO(purged.body);
    CHECK(purged.status == 200);
    CHECK_THAT(purged.body, Catch::Contains(R"("purged":1)"));
    auto info = admin.Inspect(broker::QueueName{dlq});
    REQUIRE(info);
    REQUIRE(info->has_value());
    CHECK((*info)->messages == 0);

    // The console's user reads no work queue and publishes to no exchange but the default.
    broker::ConnectionOptions options;
    options.url = vhost.Url("CONSOLE");
    options.tls_ca_file = vhost.ca;
    auto console = broker::Client::Connect(options);
    REQUIRE(console);
    auto taken = console->Get(broker::kInventoryQueue);
    REQUIRE_FALSE(taken);
    CHECK_THAT(taken.error(), Catch::Contains("ACCESS_REFUSED"));
    console = broker::Client::Connect(options);
    REQUIRE(console);
    CHECK(console->Publish(poison) != broker::PublishStatus::kConfirmed);
    CHECK(ReadyIn(admin, broker::kInventoryQueue) == 0);
    std::filesystem::remove_all(dir);
}

// The secrets of one run: every broker password (in the services' and orderflowctl's URLs)
// the API keys and the console's admin token. Add any other secret of a run here.
TEST_CASE(
    "no password, API key or admin token shows in logs, /metrics, /readyz, the console or "
    "orderflowctl output after a run that used them all",
    "[security][secrets]") {
    SecureVhost vhost;
    const auto dir = TempDir("secrets");
    const std::string api_key = "it-secret-api-key-Zr8Lq3Vw6Xn1Pb4";
    std::ofstream(dir / "keys.json") << R"({")" << api_key << R"(":"alice"})";
    std::vector<std::string> secrets = vhost.passwords;
    secrets.push_back(api_key);
    const std::string admin_token = "it-secret-admin-token-Qm2Kd7Hs9Tc4";
    secrets.push_back(admin_token);

    SecurePipeline pipeline(vhost, dir,
                            {{"ORDERFLOW_API_KEYS", (dir / "keys.json").string()},
                             {"ORDERFLOW_ADMIN_TOKEN", admin_token}});
    pipeline.StartAll();
    auto ids = PostOrders(pipeline.ingress.Port(), 10, "alice", api_key);
    CHECK(PostOrder(pipeline.ingress.Port(), "alice", {{"burger", 1}},
                    {{"Authorization", "Bearer " + api_key + "x"}})
              .status == 401);
    CHECK(PostOrder(pipeline.ingress.Port(), "bob", {{"burger", 1}},
                    {{"Authorization", "Bearer " + api_key}})
              .status == 403);
    CHECK(Eventually([&] { return AllNotified(pipeline.ingress.Port(), ids); }, 60s, 250ms));

    std::vector<std::pair<std::string, std::string>> outputs;  // where, text
    // The console's write actions with no, a wrong and the right admin token; its pages.
    const std::string purge = R"({"queue":"inventory.order-placed"})";
    const std::pair<std::string, std::string> json{"Content-Type", "application/json"};
    auto no_token =
        HttpCall("POST", pipeline.analytics.Port(), "/api/dead-letters/purge", purge, {json});
    CHECK(no_token.status == 401);
    auto wrong_token = HttpCall("POST", pipeline.analytics.Port(), "/api/dead-letters/purge", purge,
                                {json, {"Authorization", "Bearer " + admin_token + "x"}});
    CHECK(wrong_token.status == 403);
    auto right_token = HttpCall("POST", pipeline.analytics.Port(), "/api/dead-letters/purge", purge,
                                {json, {"Authorization", "Bearer " + admin_token}});
    CHECK(right_token.status == 200);
    for (const auto* answer : {&no_token, &wrong_token, &right_token}) {
        outputs.emplace_back("console purge", std::to_string(answer->status) + answer->body);
    }
    for (const char* path : {"/", "/api/overview", "/api/dead-letters"}) {
        outputs.emplace_back(std::string("console ") + path,
                             HttpCall("GET", pipeline.analytics.Port(), path).body);
    }
    for (auto* service :
         {&pipeline.inventory, &pipeline.notification, &pipeline.ingress, &pipeline.analytics}) {
        for (const char* path : {"/metrics", "/readyz", "/healthz"}) {
            outputs.emplace_back(std::to_string(service->Port()) + path,
                                 HttpCall("GET", service->Port(), path).body);
        }
    }
    // orderflowctl with every URL carrying a password, as the environment and as flags,
    // including its failures: a refused login, a bad URL, an unreachable management API.
    const auto ctl = kBin + "/orderflowctl";
    auto admin_url = vhost.Url("ADMIN");
    std::string wrong_password = admin_url;
    wrong_password.replace(wrong_password.find(':', 8) + 1, 32, vhost.passwords[1]);
    // An unreachable management API: status's warning names the URL.
    std::string mgmt = vhost.MgmtUrl();
    mgmt.replace(mgmt.rfind(':') + 1, std::string::npos, "1");
    const std::map<std::string, std::string> env = {{"ORDERFLOW_AMQP_URL", admin_url},
                                                    {"ORDERFLOW_AMQP_CA_FILE", vhost.ca},
                                                    {"ORDERFLOW_MGMT_URL", mgmt}};
    const std::vector<std::vector<std::string>> runs = {
        {ctl, "--help"},
        {ctl, "topology", "check"},
        {ctl, "dlq", "list"},
        {ctl, "status", "--json"},
        {ctl, "status"},
        {ctl, "--mgmt-url", vhost.MgmtUrl(), "status", "--json"},
        {ctl, "--mgmt-url", "ftp" + vhost.MgmtUrl().substr(5), "status"},
        {ctl, "--amqp-url", wrong_password, "broker-bench", "--messages", "10"},
        {ctl, "--amqp-url", wrong_password, "topology", "check"},
        {ctl, "--amqp-url", admin_url + "?x=1&&", "dlq", "list"},
        {ctl, "--amqp-url", "amqps://u:" + vhost.passwords[2] + "@[bad", "dlq", "list"},
        {ctl, "load", "--url", "http://127.0.0.1:1/orders", "-H", "Authorization Bearer " + api_key,
         "-d", "1"},
        {ctl, "load", "--url",
         "http://127.0.0.1:" + std::to_string(pipeline.ingress.Port()) + "/orders", "-H",
         "Authorization: Bearer " + api_key, "--body", R"({"user_id":"alice","items":{"soda":1}})",
         "-n", "5", "-c", "1"},
    };
    for (const auto& argv : runs) {
        auto run = RunProcess(argv, env);
        outputs.emplace_back("orderflowctl " + argv[1], run.out + run.err);
    }
    for (const char* binary : {"orderflow-ingress", "orderflow-inventory", "orderflow-notification",
                               "orderflow-analytics"}) {
        auto run = RunProcess({kBin + "/" + binary, "--help"},
                              {{"ORDERFLOW_AMQP_URL", admin_url},
                               {"ORDERFLOW_API_KEYS", (dir / "keys.json").string()}});
        outputs.emplace_back(std::string(binary) + " --help", run.out + run.err);
    }
    // The console's URL: in the environment for --help, malformed, and on another vhost.
    const auto console_url = vhost.Url("CONSOLE");
    const std::vector<std::pair<std::vector<std::string>, std::map<std::string, std::string>>>
        analytics_runs = {
            {{kBin + "/orderflow-analytics", "--help"},
             {{"ORDERFLOW_CONSOLE_AMQP_URL", console_url}}},
            {{kBin + "/orderflow-analytics", "--console-amqp-url",
              "amqps://u:" + vhost.passwords[5] + "@[bad"},
             {}},
            {{kBin + "/orderflow-analytics", "--console-amqp-url",
              console_url.substr(0, console_url.rfind('/')) + "/elsewhere"},
             {{"ORDERFLOW_AMQP_URL", vhost.Url("ANALYTICS")}}},
        };
    for (const auto& [argv, run_env] : analytics_runs) {
        auto run = RunProcess(argv, run_env);
        if (argv[1] != "--help") CHECK(run.exit == 2);
        outputs.emplace_back("orderflow-analytics " + argv[1], run.out + run.err);
    }
    // Stopped gracefully, so that shutdown lines are in the logs too.
    for (auto* service :
         {&pipeline.inventory, &pipeline.notification, &pipeline.ingress, &pipeline.analytics}) {
        service->Kill(SIGTERM);
        service->Wait(20s);
        outputs.emplace_back("log of " + std::to_string(service->Port()), service->Log());
    }
    for (const auto& [where, text] : outputs) {
        INFO(where);
        CHECK_FALSE(text.empty());
        for (const auto& secret : secrets) CHECK_THAT(text, !Catch::Contains(secret));
    }
    std::filesystem::remove_all(dir);
}
