// Integration-test support: a vhost of its own per test on the real broker started by
// scripts/test.sh, orderflow services run as real processes, and a blocking HTTP client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/client.hpp"

namespace orderflow::test {

struct HttpResult {
    int status = 0;  // 0: connection failed
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
};

// One blocking HTTP/1.1 exchange on a new connection (Connection: close).
HttpResult HttpCall(const std::string& method, uint16_t port, const std::string& target,
                    const std::string& body = {},
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// One call to the test broker's management API (ORDERFLOW_TEST_MGMT_URL), JSON body.
HttpResult MgmtCall(const std::string& method, const std::string& path, const std::string& body);

uint16_t FreePort();
std::string Env(const char* name);  // FAILs the test when unset
std::string NewId();

// A vhost of its own (created through the management API, deleted at the end).
class Vhost final {
  public:
    Vhost();
    ~Vhost();
    const std::string& Name() const { return name_; }
    std::string AmqpUrl() const;

  private:
    std::string name_;
};

// A client of our broker layer on `vhost` (REQUIREs that it connects).
broker::Client ConnectBroker(const Vhost& vhost);

// Closes every connection of `vhost` (only those whose connection_name contains `named`,
// when given) from the broker side (management API), as a broker restart or a cut network
// would; returns how many it closed.
int CloseConnections(const Vhost& vhost, std::string_view named = {});

// The broker's names ("127.0.0.1:54321 -> 127.0.0.1:5672") of the connections of `vhost`
// whose connection_name contains `named`, as the management API lists them (it may still
// list a connection for a moment after it closed).
std::vector<std::string> ConnectionNames(const Vhost& vhost, std::string_view named = {});

// Closes the connection the broker calls `name`; false if the broker did not (e.g. gone).
bool CloseConnection(const std::string& name);

// An orderflow binary run as a child process with its log in `dir`/<name>.log. `binary`
// may also be an absolute path (another program, e.g. nginx), run with `args`.
class Service final {
  public:
    Service(std::string binary, std::map<std::string, std::string> env,
            std::filesystem::path log_dir, std::vector<std::string> args = {});
    ~Service();  // SIGKILL if still running
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;
    void Start();
    bool WaitReady(std::chrono::seconds timeout = std::chrono::seconds(30));
    void Kill(int signal);
    // Waits for the process to exit; returns its exit status (or -signal), nullopt on timeout.
    std::optional<int> Wait(std::chrono::seconds timeout);
    bool Running();
    uint16_t Port() const { return port_; }
    std::string Log() const;
    pid_t Pid() const { return pid_; }
    const std::filesystem::path& LogPath() const { return log_path_; }

  private:
    std::string binary_;
    std::vector<std::string> args_;
    std::map<std::string, std::string> env_;
    std::filesystem::path log_path_;
    uint16_t port_ = 0;
    pid_t pid_ = -1;
};

// The store backends the exactly-once tests run on: "sqlite", and "postgres" when
// scripts/test.sh started a PostgreSQL (ORDERFLOW_TEST_DATABASE_URL).
std::vector<std::string> StoreBackends();
// While one lives, each Pipeline made on this thread uses `backend`: for "postgres" a fresh
// database of its own on the test server (ORDERFLOW_DATABASE_URL in its env).
class StoreBackendScope final {
  public:
    explicit StoreBackendScope(std::string backend);
    ~StoreBackendScope();
    StoreBackendScope(const StoreBackendScope&) = delete;
    StoreBackendScope& operator=(const StoreBackendScope&) = delete;
};
// The ORDERFLOW_DATABASE_URL of a fresh PostgreSQL database (REQUIREs the test server).
std::string NewTestDatabase();

// The three pipeline services on one vhost and one data dir.
struct Pipeline {
    // `extra_env` goes to every service, `inventory_env` to inventory only.
    explicit Pipeline(std::map<std::string, std::string> extra_env = {},
                      std::map<std::string, std::string> inventory_env = {});
    Vhost vhost;
    std::filesystem::path dir;
    std::map<std::string, std::string> env;
    Service inventory;
    Service notification;
    Service ingress;
    void StartAll();
};

// POST /orders with {"user_id":..., "items":{sku: qty}}; returns the answer.
HttpResult PostOrder(uint16_t port, const std::string& user,
                     const std::vector<std::pair<std::string, int>>& items,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
// The latest stage of an order (GET /orders/{id} on the ingress), empty if unknown.
std::string StatusOf(uint16_t ingress_port, const std::string& order_id);
// True when every one of `ids` has reached "notified".
bool AllNotified(uint16_t ingress_port, const std::vector<std::string>& ids);
// The stock of `sku` (GET /inventory on the inventory), -1 if it has none.
int64_t StockLevel(uint16_t inventory_port, const std::string& sku);
// How many notifications the notification service recorded for an order.
size_t NotificationCount(uint16_t notification_port, const std::string& order_id);
// The messages ready in `queue` (REQUIREs that it exists).
uint32_t ReadyIn(broker::Client& client, const broker::QueueName& queue);
// GET /metrics of `service` (REQUIREs 200).
std::string Scrape(const Service& service);
// The value of the sample of `name` in `scrape` whose labels include every `labels` pair; 0
// when the series does not exist yet (a counter that never moved).
double Sample(const std::string& scrape, const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels = {});
// How often `needle` occurs in `text`.
size_t Occurrences(const std::string& text, const std::string& needle);
// An OrderPlaced of one item for orders.events, as the ingress publishes it (routing key
// order.placed, message_id = event_id).
broker::OutgoingMessage OrderPlacedEvent(const std::string& event_id, const std::string& order_id,
                                         const std::string& user, const std::string& sku,
                                         int quantity = 1);
// An InventoryReserved of one item for orders.events, as inventory publishes it (routing key
// inventory.reserved, message_id = event_id): what notification and the ingress consume.
broker::OutgoingMessage InventoryReservedEvent(const std::string& event_id,
                                               const std::string& order_id, const std::string& user,
                                               const std::string& sku, int quantity = 1);
// A message for orders.events with routing key `routing_key`, `body` and a new message_id,
// nothing else: poison for a consumer, or an event only the stream takes.
broker::OutgoingMessage RawEvent(const std::string& routing_key, std::string body);
// Pulls a string field out of a flat JSON answer (enough for tests).
std::string JsonField(const std::string& json, const std::string& field);
// Polls until `predicate` holds or `timeout` passes.
template <class Predicate>
bool Eventually(Predicate predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(100));

}  // namespace orderflow::test

#include <thread>
template <class Predicate>
bool orderflow::test::Eventually(Predicate predicate, std::chrono::milliseconds timeout,
                                 std::chrono::milliseconds step) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(step);
    }
    return predicate();
}
