// Integration-test support; see support.hpp.
// The listener below (the services' logs at a test's first failure) needs Catch's interfaces.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "broker/topology.hpp"
#include "events/codec.hpp"
#include "events/events.hpp"
#include "events/ids.hpp"
#include "store/postgres/postgres_store.hpp"

extern char** environ;

namespace orderflow::test {
namespace {

std::string Base64(const std::string& in) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    int val = 0, bits = -6;
    for (unsigned char c : in) {
        val = (val << 8) + c;
        bits += 8;
        while (bits >= 0) {
            out.push_back(table[(val >> bits) & 0x3F]);
            bits -= 6;
        }
    }
    if (bits > -6) out.push_back(table[((val << 8) >> (bits + 8)) & 0x3F]);
    while (out.size() % 4) out.push_back('=');
    return out;
}

struct MgmtEndpoint {
    uint16_t port = 0;
    std::string auth;
};

MgmtEndpoint ParseMgmt(const std::string& url) {
    // http://user:pass@127.0.0.1:PORT
    const auto scheme = url.find("://");
    auto rest = url.substr(scheme + 3);
    MgmtEndpoint endpoint;
    if (auto at = rest.find('@'); at != std::string::npos) {
        endpoint.auth = "Basic " + Base64(rest.substr(0, at));
        rest = rest.substr(at + 1);
    }
    endpoint.port = static_cast<uint16_t>(std::stoi(rest.substr(rest.find(':') + 1)));
    return endpoint;
}

// ORDERFLOW_TEST_MGMT_URL, or on a cluster the management URLs of its nodes separated by
// commas (a test may kill any node: the calls go to the first that answers).
std::vector<MgmtEndpoint> Mgmt() {
    const auto urls = Env("ORDERFLOW_TEST_MGMT_URL");
    std::vector<MgmtEndpoint> endpoints;
    size_t start = 0;
    while (true) {
        const auto comma = urls.find(',', start);
        endpoints.push_back(ParseMgmt(urls.substr(start, comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return endpoints;
}

}  // namespace

HttpResult MgmtCall(const std::string& method, const std::string& path, const std::string& body) {
    HttpResult result;
    for (const auto& mgmt : Mgmt()) {
        result = HttpCall(method, mgmt.port, path, body,
                          {{"Authorization", mgmt.auth}, {"Content-Type", "application/json"}},
                          std::chrono::seconds(10));
        if (result.status != 0) break;
    }
    return result;
}

std::string Env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        FAIL(std::string(name) + " is not set: run the suite through scripts/test.sh");
    }
    return value;
}

std::string NewId() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::to_string(rng() % 1000000000000ULL);
}

uint16_t FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

HttpResult HttpCall(const std::string& method, uint16_t port, const std::string& target,
                    const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout) {
    HttpResult result;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    // With SO_RCVTIMEO/SO_SNDTIMEO set, a signal interrupts these calls even under
    // SA_RESTART (signal(7)), and the test process does get signals (glibc's internal
    // ones among them): EINTR means "again", never "failed".
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        if (errno == EINTR) return HttpCall(method, port, target, body, headers, timeout);
        return result;
    }
    std::ostringstream request;
    request << method << ' ' << target << " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    bool has_type = false;
    for (const auto& [name, value] : headers) {
        request << name << ": " << value << "\r\n";
        has_type = has_type || strcasecmp(name.c_str(), "content-type") == 0;
    }
    if (!body.empty() && !has_type) request << "Content-Type: application/json\r\n";
    if (!body.empty() || method == "POST") request << "Content-Length: " << body.size() << "\r\n";
    request << "\r\n" << body;
    const auto text = request.str();
    size_t sent = 0;
    while (sent < text.size()) {
        const auto n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    std::string response;
    char buffer[16384];
    while (true) {
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        response.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    const auto header_end = response.find("\r\n\r\n");
    if (response.size() < 12 || header_end == std::string::npos) return result;
    result.status = std::atoi(response.c_str() + 9);
    std::istringstream lines(response.substr(0, header_end));
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        result.headers[name] = value;
    }
    result.body = response.substr(header_end + 4);
    return result;
}

broker::Client ConnectBroker(const Vhost& vhost) {
    broker::ConnectionOptions options;
    options.url = vhost.AmqpUrl();
    auto client = broker::Client::Connect(options);
    REQUIRE(client);
    return std::move(*client);
}

std::vector<std::string> ConnectionNames(const Vhost& vhost, std::string_view named) {
    const auto listed = MgmtCall(
        "GET", "/api/vhosts/" + vhost.Name() + "/connections?columns=name,client_properties", "");
    rapidjson::Document connections;
    connections.Parse(listed.body.c_str());
    std::vector<std::string> names;
    if (connections.HasParseError() || !connections.IsArray()) return names;
    for (const auto& connection : connections.GetArray()) {
        if (!connection.HasMember("name") || !connection["name"].IsString()) continue;
        std::string label;  // connection_name, as the clients set it
        if (connection.HasMember("client_properties") &&
            connection["client_properties"].IsObject() &&
            connection["client_properties"].HasMember("connection_name") &&
            connection["client_properties"]["connection_name"].IsString()) {
            label = connection["client_properties"]["connection_name"].GetString();
        }
        if (!named.empty() && label.find(named) == std::string::npos) continue;
        names.emplace_back(connection["name"].GetString());
    }
    return names;
}

bool CloseConnection(const std::string& name) {
    std::string encoded;
    for (const unsigned char c : name) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        encoded += std::isalnum(c) != 0 || c == '.' ? std::string(1, static_cast<char>(c)) : hex;
    }
    return MgmtCall("DELETE", "/api/connections/" + encoded, "").status == 204;
}

int CloseConnections(const Vhost& vhost, std::string_view named) {
    int closed = 0;
    for (const auto& name : ConnectionNames(vhost, named)) closed += CloseConnection(name) ? 1 : 0;
    return closed;
}

Vhost::Vhost() : name_("it-" + NewId()) {
    auto created = MgmtCall("PUT", "/api/vhosts/" + name_, "{}");
    REQUIRE((created.status == 201 || created.status == 204));
    auto user = Env("ORDERFLOW_TEST_MGMT_URL");
    auto granted = MgmtCall("PUT", "/api/permissions/" + name_ + "/guest",
                            R"({"configure":".*","write":".*","read":".*"})");
    REQUIRE((granted.status == 201 || granted.status == 204));
}

Vhost::~Vhost() { MgmtCall("DELETE", "/api/vhosts/" + name_, ""); }

std::string Vhost::AmqpUrl() const {
    // One URL, or the nodes of a cluster separated by commas: each gets this vhost.
    const auto base = Env("ORDERFLOW_TEST_AMQP_URL");
    std::string out;
    size_t start = 0;
    while (true) {
        const auto comma = base.find(',', start);
        const auto node = base.substr(start, comma - start);
        if (!out.empty()) out += ',';
        out += node.substr(0, node.rfind('/') + 1) + name_;
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

namespace {

// The services alive now, for the listener below.
std::mutex live_mutex;
std::set<const Service*> live_services;

// The last `lines` lines of a file.
std::string Tail(const std::filesystem::path& path, size_t lines) {
    std::ifstream file(path);
    std::deque<std::string> last;
    for (std::string line; std::getline(file, line);) {
        last.push_back(std::move(line));
        if (last.size() > lines) last.pop_front();
    }
    std::string out;
    for (const auto& line : last) out += line + "\n";
    return out;
}

// At a test's first failed assertion, prints the end of the log of every service it runs:
// what the services did is otherwise lost with the test's temporary directory (on CI).
class ServiceLogDump final : public Catch::TestEventListenerBase {
  public:
    using TestEventListenerBase::TestEventListenerBase;
    // Once per run of the test case: each GENERATE value runs it again from its top section.
    void sectionStarting(const Catch::SectionInfo& info) override {
        if (depth_++ == 0) dumped_ = false;
        TestEventListenerBase::sectionStarting(info);
    }
    void sectionEnded(const Catch::SectionStats& stats) override {
        --depth_;
        TestEventListenerBase::sectionEnded(stats);
    }
    bool assertionEnded(const Catch::AssertionStats& stats) override {
        if (!stats.assertionResult.succeeded() && !dumped_) {
            dumped_ = true;
            std::lock_guard lock(live_mutex);
            for (const auto* service : live_services) {
                if (service->Pid() <= 0) continue;  // never started
                std::cout << "---- last lines of " << service->LogPath().string() << " ----\n"
                          << Tail(service->LogPath(), 40);
            }
            std::cout << std::flush;
        }
        return TestEventListenerBase::assertionEnded(stats);
    }

  private:
    int depth_ = 0;
    bool dumped_ = false;
};
CATCH_REGISTER_LISTENER(ServiceLogDump)

}  // namespace

Service::Service(std::string binary, std::map<std::string, std::string> env,
                 std::filesystem::path log_dir, std::vector<std::string> args)
    : binary_(std::move(binary)), args_(std::move(args)), env_(std::move(env)), port_(FreePort()) {
    std::filesystem::create_directories(log_dir);
    log_path_ = log_dir / (std::filesystem::path(binary_).filename().string() + ".log");
    env_["ORDERFLOW_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(port_);
    std::lock_guard lock(live_mutex);
    live_services.insert(this);
}

Service::~Service() {
    {
        std::lock_guard lock(live_mutex);
        live_services.erase(this);
    }
    if (pid_ > 0 && Running()) {
        ::kill(pid_, SIGKILL);
        Wait(std::chrono::seconds(10));
    }
}

void Service::Start() {
    const std::string path =
        binary_.starts_with('/') ? binary_ : std::string(ORDERFLOW_BIN_DIR) + "/" + binary_;
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string entry(*e);
        const auto name = entry.substr(0, entry.find('='));
        if (!env_.contains(name)) env_strings.push_back(entry);
    }
    for (const auto& [name, value] : env_) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        std::vector<char*> argv{const_cast<char*>(path.c_str())};
        for (auto& arg : args_) argv.push_back(arg.data());
        argv.push_back(nullptr);
        ::execve(path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(log_fd);
}

bool Service::WaitReady(std::chrono::seconds timeout) {
    return Eventually([&] { return HttpCall("GET", port_, "/readyz").status == 200; }, timeout);
}

void Service::Kill(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
}

std::optional<int> Service::Wait(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        const auto done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            pid_ = -1;
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            return -WTERMSIG(status);
        }
        if (done < 0) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
}

bool Service::Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

std::string Service::Log() const {
    std::ifstream file(log_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

namespace {
std::filesystem::path NewTestDir() {
    auto dir = std::filesystem::temp_directory_path() / ("orderflow-it-" + NewId());
    std::filesystem::create_directories(dir);
    return dir;
}
thread_local std::string current_backend = "sqlite";

std::map<std::string, std::string> PipelineEnv(const Vhost& vhost, const std::filesystem::path& dir,
                                               std::map<std::string, std::string> extra) {
    std::map<std::string, std::string> env{{"ORDERFLOW_AMQP_URL", vhost.AmqpUrl()},
                                           {"ORDERFLOW_DATA_DIR", dir.string()}};
    if (current_backend == "postgres" && !extra.contains("ORDERFLOW_DATABASE_URL")) {
        env["ORDERFLOW_DATABASE_URL"] = NewTestDatabase();
    }
    for (auto& [k, v] : extra) env[k] = v;
    return env;
}
}  // namespace

std::vector<std::string> StoreBackends() {
    std::vector<std::string> backends{"sqlite"};
    const char* url = std::getenv("ORDERFLOW_TEST_DATABASE_URL");
    // Skipping PostgreSQL is a choice (the variable set empty), never an accident.
    if (url == nullptr) {
        FAIL(
            "ORDERFLOW_TEST_DATABASE_URL is not set: run the tests through scripts/test.sh, or "
            "set it empty to skip the PostgreSQL halves on purpose");
    }
    if (*url) backends.emplace_back("postgres");
    return backends;
}

StoreBackendScope::StoreBackendScope(std::string backend) {
    current_backend = std::move(backend);
    INFO("store backend: " << current_backend);
}
StoreBackendScope::~StoreBackendScope() { current_backend = "sqlite"; }

std::string NewTestDatabase() {
    return store::postgres::CreateDatabase(
        Env("ORDERFLOW_TEST_DATABASE_URL"), "it_" + [] {
            auto id = NewId();
            std::string name;
            for (const char c : id) {
                if (std::isalnum(static_cast<unsigned char>(c)))
                    name += static_cast<char>(std::tolower(c));
            }
            return name.substr(0, 40);
        }());
}

Pipeline::Pipeline(std::map<std::string, std::string> extra_env,
                   std::map<std::string, std::string> inventory_env)
    : dir(NewTestDir()),
      env(PipelineEnv(vhost, dir, std::move(extra_env))),
      inventory("orderflow-inventory",
                PipelineEnv(vhost, dir,
                            [&] {
                                auto e = env;
                                for (auto& [k, v] : inventory_env) e[k] = v;
                                return e;
                            }()),
                dir),
      notification("orderflow-notification", env, dir),
      ingress(
          "orderflow-ingress",
          [&] {
              auto e = env;
              e["ORDERFLOW_INVENTORY_URL"] = "http://127.0.0.1:" + std::to_string(inventory.Port());
              e["ORDERFLOW_NOTIFICATION_URL"] =
                  "http://127.0.0.1:" + std::to_string(notification.Port());
              return e;
          }(),
          dir) {}

void Pipeline::StartAll() {
    inventory.Start();
    notification.Start();
    ingress.Start();
    REQUIRE(inventory.WaitReady());
    REQUIRE(notification.WaitReady());
    REQUIRE(ingress.WaitReady());
}

HttpResult PostOrder(uint16_t port, const std::string& user,
                     const std::vector<std::pair<std::string, int>>& items,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string body = R"({"user_id":")" + user + R"(","items":{)";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) body += ",";
        body += "\"" + items[i].first + "\":" + std::to_string(items[i].second);
    }
    body += "}}";
    return HttpCall("POST", port, "/orders", body, headers);
}

std::string StatusOf(uint16_t ingress_port, const std::string& order_id) {
    return JsonField(HttpCall("GET", ingress_port, "/orders/" + order_id).body, "status");
}

bool AllNotified(uint16_t ingress_port, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        if (StatusOf(ingress_port, id) != "notified") return false;
    }
    return true;
}

int64_t StockLevel(uint16_t inventory_port, const std::string& sku) {
    const auto value = JsonField(HttpCall("GET", inventory_port, "/inventory").body, sku);
    return value.empty() ? -1 : std::stoll(value);
}

uint32_t ReadyIn(broker::Client& client, const broker::QueueName& queue) {
    auto info = client.Inspect(queue);
    REQUIRE(info);
    REQUIRE(*info);
    return (*info)->messages;
}

std::string Scrape(const Service& service) {
    const auto answer = HttpCall("GET", service.Port(), "/metrics");
    REQUIRE(answer.status == 200);
    return answer.body;
}

double Sample(const std::string& scrape, const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels) {
    std::istringstream in(scrape);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with('#')) continue;
        const auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        const auto series = line.substr(0, space);
        if (series != name && !series.starts_with(name + "{")) continue;
        bool all = true;
        for (const auto& [key, value] : labels) {
            all = all && series.find(key + "=\"" + value + "\"") != std::string::npos;
        }
        if (all) return std::stod(line.substr(space + 1));
    }
    return 0;
}

size_t Occurrences(const std::string& text, const std::string& needle) {
    size_t count = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
        ++count;
    }
    return count;
}

size_t NotificationCount(uint16_t notification_port, const std::string& order_id) {
    const auto body =
        HttpCall("GET", notification_port, "/notifications?order_id=" + order_id).body;
    return Occurrences(body, "\"order_id\"");
}

namespace {

// An event of `type` for orders.events with the properties its publisher sets.
broker::OutgoingMessage EventMessage(const char* routing_key, const char* type,
                                     const std::string& event_id, const std::string& order_id,
                                     std::string body) {
    broker::OutgoingMessage message;
    message.exchange = broker::kEventsExchange;
    message.routing_key = broker::RoutingKey{routing_key};
    message.properties.message_id = event_id;
    message.properties.correlation_id = order_id;
    message.properties.type = type;
    message.body = std::move(body);
    return message;
}

}  // namespace

broker::OutgoingMessage OrderPlacedEvent(const std::string& event_id, const std::string& order_id,
                                         const std::string& user, const std::string& sku,
                                         int quantity) {
    return EventMessage("order.placed", "OrderPlaced", event_id, order_id,
                        R"({"event_id":")" + event_id +
                            R"(","event_type":"OrderPlaced","schema_version":1,)"
                            R"("occurred_at":"2026-11-21T12:00:00.000Z","order_id":")" +
                            order_id + R"(","user_id":")" + user + R"(","items":[{"sku":")" + sku +
                            R"(","quantity":)" + std::to_string(quantity) + "}]}");
}

broker::OutgoingMessage InventoryReservedEvent(const std::string& event_id,
                                               const std::string& order_id, const std::string& user,
                                               const std::string& sku, int quantity) {
    events::InventoryReserved reserved;
    reserved.envelope = {.event_id = event_id,
                         .type = events::EventType::kInventoryReserved,
                         .occurred_at = events::FormatTime(std::chrono::system_clock::now()),
                         .order_id = order_id};
    reserved.user_id = user;
    reserved.items = {{.sku = sku, .quantity = quantity}};
    return EventMessage("inventory.reserved", "InventoryReserved", event_id, order_id,
                        events::Encode(reserved));
}

broker::OutgoingMessage RawEvent(const std::string& routing_key, std::string body) {
    broker::OutgoingMessage message;
    message.exchange = broker::kEventsExchange;
    message.routing_key = broker::RoutingKey{routing_key};
    message.properties.message_id = NewId();
    message.body = std::move(body);
    return message;
}

std::string JsonField(const std::string& json, const std::string& field) {
    const auto key = "\"" + field + "\":";
    auto pos = json.find(key);
    if (pos == std::string::npos) return {};
    pos += key.size();
    while (pos < json.size() && json[pos] == ' ') ++pos;
    if (pos < json.size() && json[pos] == '"') {
        const auto end = json.find('"', pos + 1);
        return json.substr(pos + 1, end - pos - 1);
    }
    const auto end = json.find_first_of(",}]", pos);
    return json.substr(pos, end - pos);
}

}  // namespace orderflow::test
