// Ingress HTTP adapter; see ingress_api.hpp.
#include "service/ingress_api.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "broker/topology.hpp"
#include "events/codec.hpp"
#include "events/ids.hpp"
#include "service/store_access.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {
namespace {

constexpr size_t kMaxKeyLength = 200;

// An in-flight mark older than this is a replica that died mid-request: taken over.
constexpr auto kStaleInFlight = std::chrono::seconds(30);

// Identifies "the same body" for Idempotency-Key: the decoded request, so that
// whitespace or key order in the JSON does not matter.
std::string Fingerprint(const events::OrderRequest& order) {
    std::string text = order.user_id;
    for (const auto& item : order.items) text += fmt::format("\n{}={}", item.sku, item.quantity);
    return text;
}

http::Response BrokerUnavailable(std::string_view details) {
    auto response =
        http::JsonError(503, "BROKER_UNAVAILABLE",
                        "The broker did not confirm the order; it was not accepted", details);
    response.headers.emplace_back("Retry-After", "5");
    return response;
}

// The note of an unconfirmed publish: "<order_id> <event_id> <occurred_at>" (none of
// them contains a space).
std::string FormatUnconfirmed(const UnconfirmedOrder& order) {
    return fmt::format("{} {} {}", order.order_id, order.event_id, order.occurred_at);
}

std::optional<UnconfirmedOrder> ParseUnconfirmed(std::string_view note) {
    const auto first = note.find(' ');
    const auto second = first == std::string_view::npos ? first : note.find(' ', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    UnconfirmedOrder order{std::string(note.substr(0, first)),
                           std::string(note.substr(first + 1, second - first - 1)),
                           std::string(note.substr(second + 1))};
    if (!events::IsUuid(order.order_id) || !events::IsUuid(order.event_id) ||
        order.occurred_at.empty()) {
        return std::nullopt;
    }
    return order;
}

std::string AcceptedBody(const std::string& order_id, const std::string& event_id) {
    return fmt::format(R"({{"status":"accepted","order_id":"{}","event_id":"{}"}})", order_id,
                       event_id);
}

}  // namespace

bool IsJsonContentType(const std::string* content_type) {
    if (content_type == nullptr) return true;
    std::string media = content_type->substr(0, content_type->find(';'));
    media.erase(std::remove_if(media.begin(), media.end(),
                               [](unsigned char c) { return std::isspace(c) != 0; }),
                media.end());
    std::transform(media.begin(), media.end(), media.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return media == "application/json" || media.empty();
}

http::Response UnsupportedMediaType(const std::string* content_type) {
    // Client input, echoed: printable ASCII only, and not much of it.
    std::string received;
    for (const char c : content_type ? content_type->substr(0, 100) : std::string()) {
        received.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return http::JsonError(
        415, "UNSUPPORTED_MEDIA_TYPE",
        fmt::format("Content-Type '{}' is not JSON: send application/json", received),
        received.starts_with("application/x-www-form-urlencoded")
            ? "curl -d sends application/x-www-form-urlencoded: add -H 'Content-Type: "
              "application/json' (a request without a Content-Type is read as JSON too)"
            : "send -H 'Content-Type: application/json' (or no Content-Type: it is read as "
              "JSON)");
}

IngressApi::IngressApi(broker::Publisher& publisher, StoreWriter& writer, store::Store& store,
                       telemetry::Registry& metrics)
    : publisher_(publisher), writer_(writer), store_(store), metrics_(metrics) {}

void IngressApi::Register(http::Router& router) {
    auto post = [this](http::Request&& request, http::Respond respond) {
        PostOrder(std::move(request), std::move(respond));
    };
    router.Add("POST", "/orders", post);
    router.Add("POST", "/order", post);
    router.Add("GET", "/orders/{id}", [this](http::Request&& request, http::Respond respond) {
        GetOrder(std::move(request), std::move(respond));
    });
}

IngressApi::KeyClaim IngressApi::ClaimKey(const std::string& key, const std::string& fingerprint,
                                          const UnconfirmedOrder& planned,
                                          const http::Respond& respond, UnconfirmedOrder& retry) {
    std::lock_guard lock(in_flight_mutex_);
    if (auto it = in_flight_.find(key); it != in_flight_.end()) {
        respond(it->second == fingerprint
                    ? http::JsonError(409, "REQUEST_IN_PROGRESS",
                                      "A request with this Idempotency-Key is in flight")
                    : http::JsonError(422, "IDEMPOTENCY_KEY_REUSED",
                                      "This Idempotency-Key was used with another body"));
        return KeyClaim::kAnswered;
    }
    std::optional<store::IdempotencyRecord> record;
    if (store_.Shared()) {
        // Replicas: the key's state lives in the shared store; claiming it there is atomic.
        const auto now = events::ToUnixMillis(std::chrono::system_clock::now());
        // The planned event goes with the mark: a replica that takes over the key after we
        // died publishes it again (our publish may have reached the queue), never another.
        auto claimed = ReaderSession(store_).ClaimKey(
            key, fingerprint, FormatUnconfirmed(planned), now,
            std::chrono::duration_cast<std::chrono::milliseconds>(kStaleInFlight));
        if (!claimed) {
            respond(StoreUnavailable(claimed.error()));
            return KeyClaim::kAnswered;
        }
        record = claimed->prior;
        if (!claimed->claimed && record && record->request_hash == fingerprint &&
            record->status == store::IdempotencyRecord::kInFlight) {
            respond(http::JsonError(409, "REQUEST_IN_PROGRESS",
                                    "A request with this Idempotency-Key is in flight"));
            return KeyClaim::kAnswered;
        }
        if (claimed->claimed && record && record->status == store::IdempotencyRecord::kInFlight) {
            // Taken over from a replica that died mid-request: what it noted, if anything.
            if (record->response_body.empty()) {
                record.reset();
            } else {
                record->status = store::IdempotencyRecord::kUnconfirmed;
            }
        }
    } else {
        auto found = ReaderSession(store_).FindKey(key);
        if (!found) {
            respond(StoreUnavailable(found.error()));
            return KeyClaim::kAnswered;
        }
        record = *found;
    }
    if (record && record->request_hash != fingerprint) {
        respond(http::JsonError(422, "IDEMPOTENCY_KEY_REUSED",
                                "This Idempotency-Key was used with another body"));
        return KeyClaim::kAnswered;
    }
    if (record && record->status != store::IdempotencyRecord::kUnconfirmed) {
        auto replay = http::Json(record->status, record->response_body);
        replay.headers.emplace_back("Idempotent-Replayed", "true");
        respond(std::move(replay));
        return KeyClaim::kAnswered;
    }
    in_flight_.emplace(key, fingerprint);  // claimed: repeats now get 409
    if (record) {
        if (auto parsed = ParseUnconfirmed(record->response_body)) {
            retry = std::move(*parsed);
            return KeyClaim::kRetry;
        }
        telemetry::Log(telemetry::LogLevel::kWarn, "unreadable unconfirmed-order note",
                       {{"note", record->response_body}});
    }
    return KeyClaim::kNew;
}

void IngressApi::Unconfirmed(const std::string& key, const std::string& fingerprint,
                             const UnconfirmedOrder& order, broker::PublishStatus status,
                             const http::Respond& respond) {
    telemetry::Log(telemetry::LogLevel::kWarn, "order not confirmed by the broker",
                   {{"order_id", order.order_id}, {"status", broker::StatusName(status)}});
    const std::string details(broker::StatusName(status));
    if (key.empty()) {
        Finish(key, fingerprint, BrokerUnavailable(details), respond);
        return;
    }
    // Saved before the 503 goes out (the key stays claimed meanwhile), so that the retry
    // the 503 invites finds it.
    auto note = store::IdempotencyRecord{key, fingerprint, store::IdempotencyRecord::kUnconfirmed,
                                         FormatUnconfirmed(order)};
    writer_.Submit(
        [note](store::UnitOfWork& unit) {
            unit.SaveKey(note, events::ToUnixMillis(std::chrono::system_clock::now()));
        },
        [this, key, fingerprint, respond, details, order_id = order.order_id](bool ok) {
            if (!ok) {
                telemetry::Log(telemetry::LogLevel::kError, "could not note the unconfirmed order",
                               {{"order_id", order_id}});
            }
            Finish(key, fingerprint, BrokerUnavailable(details), respond);
        });
}

void IngressApi::Finish(const std::string& key, const std::string& fingerprint,
                        http::Response response, const http::Respond& respond) {
    if (!key.empty()) {
        if (store_.Shared()) {
            // Drops our in-flight mark unless a final answer or an unconfirmed note
            // replaced it (then this changes nothing).
            if (auto released = ReaderSession(store_).ReleaseKey(key); !released) {
                telemetry::Log(telemetry::LogLevel::kWarn, "could not release Idempotency-Key",
                               {{"error", released.error().message}});
            }
        }
        std::lock_guard lock(in_flight_mutex_);
        in_flight_.erase(key);
    }
    (void)fingerprint;
    respond(std::move(response));
}

std::expected<events::OrderRequest, http::Response> ParseOrderRequest(
    const http::Request& request) {
    if (!IsJsonContentType(request.Header("content-type"))) {
        return std::unexpected(UnsupportedMediaType(request.Header("content-type")));
    }
    auto decoded = events::DecodeOrderRequest(request.body);
    if (!decoded) {
        const bool not_json = decoded.error().kind == events::DecodeError::Kind::kNotJson;
        return std::unexpected(http::JsonError(
            400, not_json ? "INVALID_JSON" : "SCHEMA_VIOLATION",
            not_json ? "The body is not valid JSON" : "The order does not match the order schema",
            decoded.error().message));
    }
    return std::move(*decoded);
}

events::OrderPlaced NewOrderPlaced(const events::OrderRequest& request) {
    events::OrderPlaced order;
    order.envelope.event_id = events::NewUuid();
    order.envelope.type = events::EventType::kOrderPlaced;
    order.envelope.occurred_at = events::FormatTime(std::chrono::system_clock::now());
    order.envelope.order_id = events::NewUuid();
    order.user_id = request.user_id;
    order.items = request.items;
    return order;
}

std::string RequestTraceparent(const http::Request& request) {
    const auto* client_trace = request.Header("traceparent");
    auto parent = client_trace ? events::ParseTraceparent(*client_trace) : std::nullopt;
    return events::FormatTraceparent(parent ? events::ChildSpan(*parent) : events::NewTrace());
}

void IngressApi::PostOrder(http::Request&& request, http::Respond respond) {
    auto decoded = ParseOrderRequest(request);
    if (!decoded) {
        respond(std::move(decoded.error()));
        return;
    }
    std::string key;
    if (const auto* header = request.Header("idempotency-key")) key = *header;
    const auto fingerprint = Fingerprint(*decoded);
    auto order = NewOrderPlaced(*decoded);
    UnconfirmedOrder retry;
    KeyClaim claim = KeyClaim::kNew;
    if (!key.empty()) {
        if (key.size() > kMaxKeyLength) {
            respond(http::JsonError(400, "SCHEMA_VIOLATION", "Idempotency-Key is too long",
                                    fmt::format("at most {} characters", kMaxKeyLength)));
            return;
        }
        claim = ClaimKey(key, fingerprint,
                         UnconfirmedOrder{order.envelope.order_id, order.envelope.event_id,
                                          order.envelope.occurred_at},
                         respond, retry);
        if (claim == KeyClaim::kAnswered) return;
    }
    if (!publisher_.Connected()) {
        Finish(key, fingerprint, BrokerUnavailable("not connected to the broker"), respond);
        return;
    }
    // An order needs the store (its projection, its key): while the database is away
    // nothing is published for it (SPEC section 9).
    if (auto down = StoreDown()) {
        Finish(key, fingerprint, StoreUnavailable(*down), respond);
        return;
    }

    // The trace: the client's trace id if it sent a valid traceparent, else a new trace.
    const auto traceparent = RequestTraceparent(request);
    if (claim == KeyClaim::kRetry) {
        order.envelope.order_id = retry.order_id;
        order.envelope.event_id = retry.event_id;
        order.envelope.occurred_at = retry.occurred_at;
    }

    broker::OutgoingMessage message;
    message.exchange = broker::kEventsExchange;
    message.routing_key = broker::RoutingKey{std::string(events::RoutingKey(order.envelope.type))};
    message.properties.message_id = order.envelope.event_id;
    message.properties.correlation_id = order.envelope.order_id;
    message.properties.type = std::string(events::TypeName(order.envelope.type));
    message.properties.app_id = "ingress";
    message.properties.headers["traceparent"] = traceparent;
    // Validated on publish, as it is encoded.
    auto body = events::EncodeChecked(order);
    if (!body) {
        Finish(key, fingerprint,
               http::JsonError(400, "SCHEMA_VIOLATION", "The order cannot form a valid event",
                               body.error().message),
               respond);
        return;
    }
    message.body = std::move(*body);

    publisher_.Publish(
        std::move(message), [this, key, fingerprint, respond, traceparent,
                             order_id = order.envelope.order_id, event_id = order.envelope.event_id,
                             at = order.envelope.occurred_at](broker::PublishStatus status) {
            // Publisher thread: nothing here may block.
            if (status != broker::PublishStatus::kConfirmed) {
                Unconfirmed(key, fingerprint, UnconfirmedOrder{order_id, event_id, at}, status,
                            respond);
                return;
            }
            auto body = AcceptedBody(order_id, event_id);
            writer_.Submit(
                [order_id, at, key, fingerprint, body](store::UnitOfWork& unit) {
                    unit.OrderRows().RecordStage(order_id, "accepted", at);
                    if (!key.empty()) {
                        unit.SaveKey(store::IdempotencyRecord{key, fingerprint, 202, body},
                                     events::ToUnixMillis(std::chrono::system_clock::now()));
                    }
                },
                [this, key, fingerprint, respond, body, order_id, traceparent](bool ok) {
                    if (!ok) {
                        // The event is on the bus; only our projection write failed.
                        telemetry::Log(telemetry::LogLevel::kError, "could not record order",
                                       {{"order_id", order_id}});
                    }
                    auto response = http::Json(202, body);
                    response.headers.emplace_back("Location", "/orders/" + order_id);
                    response.headers.emplace_back("traceparent", traceparent);
                    Finish(key, fingerprint, std::move(response), respond);
                });
        });
}

std::optional<store::StoreError> IngressApi::StoreDown() {
    // Asked at most every 250 ms (per process), so a POST costs no extra round trip.
    constexpr int64_t kRecheckMs = 250;
    const auto now = events::ToUnixMillis(std::chrono::system_clock::now());
    if (now - store_checked_ms_.load() >= kRecheckMs) {
        store_checked_ms_ = now;
        store_up_ = ReaderSession(store_).Ping();
    }
    if (store_up_) return std::nullopt;
    return store::StoreError{store::StoreError::Kind::kUnavailable, "the database does not answer"};
}

void IngressApi::GetOrder(http::Request&& request, http::Respond respond) {
    const auto& id = request.params["id"];
    const auto not_found = [&] { respond(http::JsonError(404, "NOT_FOUND", "No such order", id)); };
    if (!events::IsUuid(id)) return not_found();
    auto found = ReaderSession(store_).FindOrder(id);
    if (!found) return respond(StoreUnavailable(found.error()));
    auto& view = *found;
    if (!view) return not_found();
    std::string history;
    for (const auto& stage : view->history) {
        if (!history.empty()) history += ",";
        history += fmt::format(R"({{"status":"{}","at":"{}"}})", stage.status, stage.at);
    }
    respond(http::Json(
        200, fmt::format(R"({{"order_id":"{}","status":"{}","outcome":{},"history":[{}]}})",
                         view->order_id, view->status,
                         view->outcome ? "\"" + *view->outcome + "\"" : "null", history)));
}

}  // namespace orderflow::service
