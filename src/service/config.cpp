// CLI11 wiring of the shared options.
#include "service/config.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <charconv>
#include <stdexcept>

#include "auth/redact.hpp"
#include "broker/node_list.hpp"
#include "http/client.hpp"

namespace orderflow::service {
namespace {

// A CLI11 check that the sync-chain client accepts the URL (http://host:port[/prefix]).
std::string CheckHttpUrl(const std::string& url) {
    try {
        boost::asio::io_context io;
        http::Client client(io.get_executor(), url);
        return {};
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
}

}  // namespace

std::string CheckAmqpUrls(const std::string& urls) {
    auto nodes = broker::ParseNodeUrls(urls);
    return nodes ? std::string() : nodes.error();
}

broker::ConnectionOptions Config::Connection(std::string_view role) const {
    broker::ConnectionOptions options;
    options.url = amqp_url;
    options.tls_ca_file = amqp_ca_file;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    options.connection_name = fmt::format("orderflow-{} {} ({}, pid {})", service, role, host,
                                          static_cast<long>(::getpid()));
    return options;
}

bool ParseDelays(std::string_view text, std::vector<std::chrono::milliseconds>& out) {
    out.clear();
    while (!text.empty()) {
        const auto comma = text.find(',');
        auto part = text.substr(0, comma);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        int64_t value = 0;
        const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (ec != std::errc() || ptr != part.data() + part.size() || value < 0) return false;
        out.emplace_back(value);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
        if (text.empty()) return false;  // a trailing comma: a delay left out
    }
    return !out.empty();
}

std::vector<std::chrono::milliseconds> Config::RetryDelays() const {
    std::vector<std::chrono::milliseconds> delays;
    ParseDelays(retry_delays_ms, delays);  // validated at parse time
    return delays;
}

std::filesystem::path Config::DbPath() const { return data_dir / (service + ".db"); }

void AddCommonOptions(CLI::App& app, Config& config, uint16_t default_port) {
    config.http_addr = fmt::format("127.0.0.1:{}", default_port);
    // Defaults shown by --help with their password masked (SPEC section 11).
    app.add_option("--amqp-url", config.amqp_url,
                   "Broker URL (amqps:// for TLS); the nodes of a cluster separated by commas")
        ->envname("ORDERFLOW_AMQP_URL")
        ->check(CheckAmqpUrls)
        ->default_str(auth::RedactUrl(config.amqp_url));
    app.add_option("--amqp-ca-file", config.amqp_ca_file,
                   "PEM CA that signs the broker's certificate, for amqps:// (empty: the "
                   "system trust store); the host name is always verified")
        ->envname("ORDERFLOW_AMQP_CA_FILE");
    app.add_option("--http-addr", config.http_addr, "HTTP listen address host:port")
        ->envname("ORDERFLOW_HTTP_ADDR")
        ->capture_default_str();
    app.add_option("--database-url", config.database_url,
                   "PostgreSQL URI shared by replicas (empty: SQLite in --data-dir)")
        ->envname("ORDERFLOW_DATABASE_URL");
    app.add_option("--data-dir", config.data_dir, "Directory of the SQLite files")
        ->envname("ORDERFLOW_DATA_DIR")
        ->capture_default_str();
    app.add_option("--log-format", config.log_format, "text or json")
        ->envname("ORDERFLOW_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--inject-delay-ms", config.inject_delay_ms,
                   "Fault injection: delay before each handling")
        ->envname("ORDERFLOW_INJECT_DELAY_MS")
        ->check(CLI::Range(0, 3600000))
        ->capture_default_str();
    app.add_option("--inject-fail-rate", config.inject_fail_rate,
                   "Fault injection: fraction of handlings that fail transiently")
        ->envname("ORDERFLOW_INJECT_FAIL_RATE")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--http-threads", config.http_threads, "Threads running the HTTP server")
        ->envname("ORDERFLOW_HTTP_THREADS")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--shutdown-timeout-ms", config.shutdown_timeout_ms,
                   "Bound on a graceful shutdown")
        ->envname("ORDERFLOW_SHUTDOWN_TIMEOUT_MS")
        ->capture_default_str();
}

void AddConsumerOptions(CLI::App& app, Config& config) {
    app.add_option("--prefetch", config.prefetch, "Consumer prefetch (basic.qos)")
        ->envname("ORDERFLOW_PREFETCH")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    app.add_option("--max-attempts", config.max_attempts,
                   "Deliveries before a transient failure is dead-lettered")
        ->envname("ORDERFLOW_MAX_ATTEMPTS")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--retry-delays-ms", config.retry_delays_ms,
                   "Delays before attempt 2, 3, ... (jitter +/-20%)")
        ->envname("ORDERFLOW_RETRY_DELAYS_MS")
        ->check([](const std::string& text) {
            std::vector<std::chrono::milliseconds> delays;
            return ParseDelays(text, delays) ? std::string() : "expected e.g. 1000,5000,25000";
        })
        ->capture_default_str();
    app.add_option("--batch-max", config.batch_max, "Deliveries handled per transaction")
        ->envname("ORDERFLOW_BATCH_MAX")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--batch-wait-ms", config.batch_wait_ms,
                   "Longest a batch's first delivery waits for more (0: take what has arrived)")
        ->envname("ORDERFLOW_BATCH_WAIT_MS")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--inbox-retention-days", config.inbox_retention_days,
                   "How long processed message ids are kept")
        ->envname("ORDERFLOW_INBOX_RETENTION_DAYS")
        ->check(CLI::Range(1, 3650))
        ->capture_default_str();
}

void AddSyncChainOptions(CLI::App& app, Config& config) {
    app.add_option("--inventory-url", config.inventory_url, "Sync chain: inventory service")
        ->envname("ORDERFLOW_INVENTORY_URL")
        ->check(CheckHttpUrl)
        ->capture_default_str();
    app.add_option("--notification-url", config.notification_url,
                   "Sync chain: notification service")
        ->envname("ORDERFLOW_NOTIFICATION_URL")
        ->check(CheckHttpUrl)
        ->capture_default_str();
    app.add_option("--sync-timeout-ms", config.sync_timeout_ms,
                   "Sync chain: timeout of each attempt")
        ->envname("ORDERFLOW_SYNC_TIMEOUT_MS")
        ->check(CLI::Range(1, 3600000))
        ->capture_default_str();
    app.add_option("--sync-retries", config.sync_retries,
                   "Sync chain: retries after a failed or timed-out attempt")
        ->envname("ORDERFLOW_SYNC_RETRIES")
        ->check(CLI::Range(0, 20))
        ->capture_default_str();
    app.add_option("--sync-backoff-ms", config.sync_backoff_ms,
                   "Sync chain: backoff base, doubled per retry, full jitter")
        ->envname("ORDERFLOW_SYNC_BACKOFF_MS")
        ->check(CLI::Range(0, 600000))
        ->capture_default_str();
    app.add_option("--breaker-failures", config.breaker_failures,
                   "Sync chain: failed attempts in a row that open a breaker")
        ->envname("ORDERFLOW_BREAKER_FAILURES")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    app.add_option("--breaker-open-ms", config.breaker_open_ms,
                   "Sync chain: how long a breaker stays open before a trial call")
        ->envname("ORDERFLOW_BREAKER_OPEN_MS")
        ->check(CLI::Range(0, 3600000))
        ->capture_default_str();
}

}  // namespace orderflow::service
