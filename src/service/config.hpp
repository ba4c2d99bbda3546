// Service configuration (SPEC section 2): every flag has an ORDERFLOW_* environment twin;
// flags win over the environment.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "broker/connection_options.hpp"

namespace orderflow::service {

struct Config {
    std::string service;  // "ingress", "inventory", ...
    std::string amqp_url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    // PEM CA that signs the broker's certificate, for amqps:// (empty: system trust store).
    std::string amqp_ca_file;
    std::string http_addr;  // default 127.0.0.1:<service port>
    std::filesystem::path data_dir = "./data";
    std::string database_url;  // empty: SQLite in data_dir; postgresql://: shared PostgreSQL
    int prefetch = 200;
    int max_attempts = 4;
    std::string retry_delays_ms = "1000,5000,25000";
    int inject_delay_ms = 0;
    double inject_fail_rate = 0.0;
    std::string inventory_seed;  // path to {"sku": qty}; empty: built-in
    std::string inventory_url = "http://127.0.0.1:8001";
    std::string notification_url = "http://127.0.0.1:8002";
    std::string mgmt_url = "http://guest:guest@127.0.0.1:15672";
    std::string log_format = "text";
    int http_threads = 2;
    int batch_max = 200;
    int batch_wait_ms = 0;
    int inbox_retention_days = 7;
    int shutdown_timeout_ms = 10000;
    int sync_timeout_ms = 5000;
    int sync_retries = 2;
    int sync_backoff_ms = 200;
    int breaker_failures = 5;
    int breaker_open_ms = 10000;

    broker::ConnectionOptions Connection(std::string_view role) const;
    std::vector<std::chrono::milliseconds> RetryDelays() const;  // parsed retry_delays_ms
    std::filesystem::path DbPath() const;                        // data_dir / "<service>.db"
};

// Registers the options every service shares (SPEC section 2) on `app`.
void AddCommonOptions(CLI::App& app, Config& config, uint16_t default_port);
void AddConsumerOptions(CLI::App& app, Config& config);
void AddSyncChainOptions(CLI::App& app, Config& config);

// A CLI11 check of a broker URL or node list (ORDERFLOW_AMQP_URL's syntax): empty when
// it parses, else why (without its passwords).
std::string CheckAmqpUrls(const std::string& urls);

// Parses "1000,5000,25000"; false on syntax errors or negative values.
bool ParseDelays(std::string_view text, std::vector<std::chrono::milliseconds>& out);

}  // namespace orderflow::service
