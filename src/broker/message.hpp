// Transport-neutral AMQP message: bytes plus properties. Nothing from rabbitmq-c leaks
// past src/broker; the rest of orderflow speaks these types.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace orderflow::broker {

// Strong names where they cross module boundaries.
struct QueueName {
    std::string value;
    auto operator<=>(const QueueName&) const = default;
};
struct ExchangeName {
    std::string value;
    auto operator<=>(const ExchangeName&) const = default;
};
struct RoutingKey {
    std::string value;
    auto operator<=>(const RoutingKey&) const = default;
};

// AMQP field values, recursive so that tables such as x-death survive a round trip.
struct FieldValue;
using FieldTable = std::map<std::string, FieldValue>;
using FieldArray = std::vector<FieldValue>;
struct FieldValue {
    std::variant<std::monostate, bool, int64_t, double, std::string, FieldArray, FieldTable> value;

    FieldValue() = default;
    FieldValue(bool v) : value(v) {}                      // NOLINT(google-explicit-constructor)
    FieldValue(int64_t v) : value(v) {}                   // NOLINT(google-explicit-constructor)
    FieldValue(int v) : value(int64_t{v}) {}              // NOLINT(google-explicit-constructor)
    FieldValue(double v) : value(v) {}                    // NOLINT(google-explicit-constructor)
    FieldValue(std::string v) : value(std::move(v)) {}    // NOLINT(google-explicit-constructor)
    FieldValue(const char* v) : value(std::string(v)) {}  // NOLINT(google-explicit-constructor)
    FieldValue(FieldArray v) : value(std::move(v)) {}     // NOLINT(google-explicit-constructor)
    FieldValue(FieldTable v) : value(std::move(v)) {}     // NOLINT(google-explicit-constructor)

    const std::string* AsString() const { return std::get_if<std::string>(&value); }
    std::optional<int64_t> AsInt() const;  // int64 or a decimal string
    bool operator==(const FieldValue&) const = default;
};

struct Properties {
    std::string content_type = "application/json";
    uint8_t delivery_mode = 2;  // persistent
    std::string message_id;
    std::string correlation_id;
    std::string type;
    std::string app_id;
    std::optional<int64_t> timestamp;  // seconds since the epoch (AMQP resolution)
    std::string expiration;            // per-message TTL in ms, as a string; empty = none
    FieldTable headers;

    const std::string* Header(const std::string& name) const;
    std::optional<int64_t> IntHeader(const std::string& name) const;
};

struct OutgoingMessage {
    ExchangeName exchange;
    RoutingKey routing_key;
    Properties properties;
    std::string body;
    bool mandatory = true;
};

struct Delivery {
    uint64_t delivery_tag = 0;
    bool redelivered = false;
    ExchangeName exchange;
    RoutingKey routing_key;
    QueueName queue;  // the queue it was consumed from
    Properties properties;
    std::string body;
};

}  // namespace orderflow::broker
