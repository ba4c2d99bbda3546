// The synchronous order chain of the ingress; see sync_order_api.hpp.
#include "service/sync_order_api.hpp"

#include <fmt/format.h>

#include <charconv>
#include <optional>

#include "events/codec.hpp"
#include "handlers/order_status.hpp"
#include "service/ingress_api.hpp"
#include "service/queries.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {
namespace {

constexpr int kMaxInjectedDelayMs = 600000;

// ?delay_ms=N&fail=1 of the sync request, checked, as the query forwarded to /reserve.
std::expected<std::string, http::Response> FaultQuery(const http::Request& request) {
    std::string query;
    if (auto it = request.query.find("delay_ms"); it != request.query.end()) {
        const auto& text = it->second;
        int value = -1;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value < 0 ||
            value > kMaxInjectedDelayMs) {
            return std::unexpected(http::JsonError(
                400, "SCHEMA_VIOLATION", "delay_ms must be an integer of milliseconds",
                fmt::format("0 to {}, got '{}'", kMaxInjectedDelayMs, text)));
        }
        if (value > 0) query += fmt::format("delay_ms={}", value);
    }
    if (auto it = request.query.find("fail"); it != request.query.end()) {
        const auto& text = it->second;
        if (text == "1" || text == "true") {
            query += query.empty() ? "fail=1" : "&fail=1";
        } else if (text != "0" && text != "false") {
            return std::unexpected(http::JsonError(400, "SCHEMA_VIOLATION", "fail must be 1 or 0",
                                                   fmt::format("got '{}'", text)));
        }
    }
    return query.empty() ? std::string() : "?" + query;
}

void LogFailure(std::string_view target, const std::string& order_id,
                const SyncCallResult& result) {
    telemetry::Log(telemetry::LogLevel::kWarn, "sync order failed",
                   {{"order_id", order_id},
                    {"target", target},
                    {"outcome", SyncOutcomeName(result.outcome)},
                    {"attempts", result.attempts},
                    {"error", result.error}});
}

}  // namespace

struct SyncOrderApi::Flow {
    events::OrderPlaced order;
    std::string traceparent;
    http::Respond respond;
    int reserve_attempts = 0;
    int send_attempts = 0;
    std::string inventory_body;     // the InventoryReserved/Rejected answer of /reserve
    std::string notification_body;  // the NotificationSent answer of /send
};

http::Response UpstreamError(const SyncCallResult& result, std::string_view target,
                             std::string_view order_id) {
    const auto details = fmt::format("order_id {}; {} attempt(s) to {}; last: {}", order_id,
                                     result.attempts, target, result.error);
    switch (result.outcome) {
        case SyncCallResult::Outcome::kCircuitOpen: {
            auto response = http::JsonError(
                503, "CIRCUIT_OPEN",
                fmt::format("The circuit breaker of {} is open; the order was not sent", target),
                details);
            response.headers.emplace_back("Retry-After", "1");
            return response;
        }
        case SyncCallResult::Outcome::kTimeout:
            return http::JsonError(504, "UPSTREAM_TIMEOUT",
                                   fmt::format("{} did not answer in time", target), details);
        case SyncCallResult::Outcome::kRefused:
        case SyncCallResult::Outcome::kFailed:
        case SyncCallResult::Outcome::kOk:
            break;
    }
    return http::JsonError(502, "UPSTREAM_FAILED", fmt::format("{} failed", target), details);
}

SyncCallOptions SyncCallOptionsFor(const Config& config, std::string target, std::string url) {
    SyncCallOptions options;
    options.target = std::move(target);
    options.base_url = std::move(url);
    options.timeout = std::chrono::milliseconds(config.sync_timeout_ms);
    options.retries = config.sync_retries;
    options.backoff_base = std::chrono::milliseconds(config.sync_backoff_ms);
    options.breaker_failures = config.breaker_failures;
    options.breaker_open_for = std::chrono::milliseconds(config.breaker_open_ms);
    return options;
}

SyncOrderApi::SyncOrderApi(boost::asio::any_io_executor executor, const Config& config,
                           telemetry::Registry& metrics, StoreWriter& writer)
    : inventory_(executor, SyncCallOptionsFor(config, "inventory", config.inventory_url), metrics),
      notification_(executor, SyncCallOptionsFor(config, "notification", config.notification_url),
                    metrics),
      writer_(writer) {}

void SyncOrderApi::Register(http::Router& router) {
    router.Add("POST", "/orders/sync", [this](http::Request&& request, http::Respond respond) {
        PostSyncOrder(std::move(request), std::move(respond));
    });
}

void SyncOrderApi::PostSyncOrder(http::Request&& request, http::Respond respond) {
    auto decoded = ParseOrderRequest(request);
    if (!decoded) return respond(std::move(decoded.error()));
    auto fault_query = FaultQuery(request);
    if (!fault_query) return respond(std::move(fault_query.error()));

    auto flow = std::make_shared<Flow>();
    flow->order = NewOrderPlaced(*decoded);
    flow->traceparent = RequestTraceparent(request);
    flow->respond = std::move(respond);
    auto body = events::EncodeChecked(flow->order);
    if (!body) {
        return flow->respond(http::JsonError(
            400, "SCHEMA_VIOLATION", "The order cannot form a valid event", body.error().message));
    }
    inventory_.Post("/reserve" + *fault_query, std::move(*body),
                    {{"traceparent", flow->traceparent}},
                    [this, flow](SyncCallResult result) { OnReserved(flow, std::move(result)); });
}

void SyncOrderApi::OnReserved(const std::shared_ptr<Flow>& flow, SyncCallResult result) {
    const auto& order_id = flow->order.envelope.order_id;
    flow->reserve_attempts = result.attempts;
    if (result.outcome != SyncCallResult::Outcome::kOk) {
        LogFailure("inventory", order_id, result);
        // Nothing is known to have happened: the order is not recorded (GET gives 404).
        return flow->respond(UpstreamError(result, "inventory", order_id));
    }
    auto event = events::DecodeInventoryEvent(result.response.body);
    const bool same_order =
        event && std::visit([&](const auto& e) { return e.envelope.order_id == order_id; }, *event);
    if (!same_order) {
        result.outcome = SyncCallResult::Outcome::kFailed;
        result.error = event ? "the answer is about another order" : event.error().message;
        return flow->respond(UpstreamError(result, "inventory", order_id));
    }
    flow->inventory_body = std::move(result.response.body);
    notification_.Post("/send", flow->inventory_body, {{"traceparent", flow->traceparent}},
                       [this, flow](SyncCallResult sent) { OnSent(flow, std::move(sent)); });
}

void SyncOrderApi::OnSent(const std::shared_ptr<Flow>& flow, SyncCallResult result) {
    const auto& order_id = flow->order.envelope.order_id;
    flow->send_attempts = result.attempts;
    if (result.outcome != SyncCallResult::Outcome::kOk) {
        LogFailure("notification", order_id, result);
        // The stock is reserved (or the order rejected): record that much.
        return RecordThenRespond(flow, UpstreamError(result, "notification", order_id));
    }
    auto sent = events::DecodeNotificationSent(result.response.body);
    if (!sent || sent->envelope.order_id != order_id) {
        result.outcome = SyncCallResult::Outcome::kFailed;
        result.error = sent ? "the answer is about another order" : sent.error().message;
        return RecordThenRespond(flow, UpstreamError(result, "notification", order_id));
    }
    flow->notification_body = std::move(result.response.body);

    // The rejection's reason, if any, comes from inventory's event.
    std::string rejection;
    if (auto event = events::DecodeInventoryEvent(flow->inventory_body)) {
        if (const auto* rejected = std::get_if<events::InventoryRejected>(&*event)) {
            rejection = fmt::format(R"(,"reason_code":"{}","reason":{})",
                                    events::ReasonCode(rejected->reason_code),
                                    JsonString(rejected->reason));
        }
    }
    auto body = fmt::format(
        R"({{"order_id":"{}","event_id":"{}","status":"notified","outcome":"{}"{},)"
        R"("message":{},"attempts":{{"inventory":{},"notification":{}}}}})",
        order_id, flow->order.envelope.event_id, events::OutcomeName(sent->outcome), rejection,
        JsonString(sent->message), flow->reserve_attempts, flow->send_attempts);
    RecordThenRespond(flow, http::Json(200, std::move(body)));
}

void SyncOrderApi::RecordThenRespond(const std::shared_ptr<Flow>& flow, http::Response response) {
    response.headers.emplace_back("Location", "/orders/" + flow->order.envelope.order_id);
    response.headers.emplace_back("traceparent", flow->traceparent);
    auto shared = std::make_shared<http::Response>(std::move(response));
    writer_.Submit(
        [flow](store::UnitOfWork& unit) {
            auto& orders = unit.OrderRows();
            orders.RecordStage(flow->order.envelope.order_id, "accepted",
                               flow->order.envelope.occurred_at);
            // The same projection as the async path's ingress.order-status consumer.
            for (const auto* body : {&flow->inventory_body, &flow->notification_body}) {
                if (body->empty()) continue;
                if (auto projected = handlers::ProjectOrderEvent(*body, orders); !projected) {
                    throw std::runtime_error(projected.error().message);
                }
            }
        },
        [flow, shared](bool ok) {
            if (!ok) {
                // The chain's effects happened; only our projection write failed.
                telemetry::Log(telemetry::LogLevel::kError, "could not record sync order",
                               {{"order_id", flow->order.envelope.order_id}});
            }
            flow->respond(std::move(*shared));
        });
}

}  // namespace orderflow::service
