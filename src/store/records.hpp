// The values the store keeps, shared by both backends (SQLite and PostgreSQL) and by the
// services: nothing here names a database library.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orderflow::store {

// Milliseconds since the epoch, the unit of every time column.
using Millis = int64_t;

enum class Durability {
    kFull,    // a commit survives power loss (consumers' inbox/outbox)
    kNormal,  // survives a process crash (projections, caches)
};

// An event waiting in the transactional outbox.
struct OutboxEntry {
    int64_t id = 0;  // assigned on insert
    std::string exchange;
    std::string routing_key;
    std::string message_id;
    std::string correlation_id;
    std::string type;
    std::string app_id;
    std::string traceparent;
    Millis timestamp = 0;
    std::string body;
};

// Notifications recorded by the notification service (GET /notifications?order_id=).
struct NotificationRecord {
    std::string order_id;
    std::string outcome;  // "confirmed" | "rejected"
    std::string message;
    std::string at;  // RFC 3339
};

struct OrderStage {
    std::string status;  // accepted | reserved | rejected | notified
    std::string at;      // RFC 3339
};

struct OrderView {
    std::string order_id;
    std::string status;                  // latest stage
    std::optional<std::string> outcome;  // confirmed | rejected | unknown yet
    std::vector<OrderStage> history;     // in stage order
};

// Stage rank: accepted 0 < reserved/rejected 1 < notified 2. Events may arrive out of
// order (a reservation can overtake the ingress's own "accepted"), so the latest stage
// is the highest rank, never the last write.
int StageRank(std::string_view status);

// What the ingress knows of an Idempotency-Key: the first final answer (status and body,
// replayed to every repeat), or, with status kUnconfirmed, the event it published without
// getting a confirm (response_body = order_id, event_id and occurred_at separated by
// spaces): that publish may have reached the queue, so a retry republishes that same event.
// kInFlight marks a key whose first request is being handled (on any replica).
struct IdempotencyRecord {
    static constexpr int kUnconfirmed = 0;
    static constexpr int kInFlight = -1;
    std::string key;
    std::string request_hash;
    int status = kUnconfirmed;
    std::string response_body;
};

// The figures analytics keeps (handlers::OrderStats, as the store holds them): orders
// placed, orders rejected, orders placed per minute ("2026-11-21T12:00Z" -> count).
struct StatsFigures {
    int64_t total_orders = 0;
    int64_t failed_orders = 0;
    std::map<std::string, int64_t> orders_per_minute;
};

// Built-in seed: burger 100, fries 200, pizza 50, soda 150, salad 75.
std::map<std::string, int64_t> DefaultSeed();

}  // namespace orderflow::store
