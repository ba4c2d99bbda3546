// POST /reserve and POST /send; see sync_endpoints.hpp.
#include "service/sync_endpoints.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <memory>

#include "events/codec.hpp"
#include "handlers/context.hpp"
#include "handlers/inventory.hpp"
#include "handlers/notification.hpp"
#include "service/ingress_api.hpp"

namespace orderflow::service {
namespace {

constexpr int kMaxInjectedDelayMs = 600000;

// A decoded event: its id (the idempotency key) and the effect that handles it inside the
// store transaction, returning the answer body (the emitted event).
struct Decoded {
    std::string event_id;
    std::function<std::string(store::UnitOfWork&)> effect;
};
using Decoder = std::function<std::expected<Decoded, events::DecodeError>(const std::string&)>;

int QueryInt(const http::Request& request, const char* name) {
    const auto it = request.query.find(name);
    if (it == request.query.end()) return 0;
    int value = 0;
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    return std::clamp(value, 0, kMaxInjectedDelayMs);
}

bool QueryFlag(const http::Request& request, const char* name) {
    const auto it = request.query.find(name);
    return it != request.query.end() && (it->second == "true" || QueryInt(request, name) != 0);
}

// What the store work found; read by the completion after the writer committed.
struct Result {
    std::string body;
    bool already_processed = false;  // through the broker: no answer to give again
};

void HandleInStore(StoreWriter& writer, Decoded decoded, http::Respond respond) {
    auto result = std::make_shared<Result>();
    writer.Submit(
        [result, decoded = std::move(decoded)](store::UnitOfWork& unit) {
            // Same claim-effect as the consumers, in one transaction (the writer's
            // savepoint); the answer is kept so a repeat gets the first one again.
            *result = Result{};
            if (auto previous = unit.FindKey(decoded.event_id)) {
                result->body = previous->response_body;
                return;
            }
            const auto now = events::ToUnixMillis(std::chrono::system_clock::now());
            if (!unit.Claim(std::span<const std::string>(&decoded.event_id, 1), now).front()) {
                result->already_processed = true;
                return;
            }
            result->body = decoded.effect(unit);
            unit.SaveKey(
                store::IdempotencyRecord{decoded.event_id, decoded.event_id, 200, result->body},
                now);
        },
        [result, respond = std::move(respond)](bool ok) {
            if (!ok) return respond(http::JsonError(503, "TRANSIENT_FAILURE", "Store error"));
            if (result->already_processed) {
                return respond(http::JsonError(409, "ALREADY_PROCESSED",
                                               "This event was already handled from the queue"));
            }
            respond(http::Json(200, std::move(result->body)));
        });
}

void RegisterEndpoint(http::Router& router, boost::asio::io_context& io, const std::string& path,
                      StoreWriter& writer, FaultInjector& faults, Decoder decode) {
    router.Add(
        "POST", path,
        [&io, &writer, &faults, decode](http::Request&& request, http::Respond respond) {
            if (!IsJsonContentType(request.Header("content-type"))) {
                respond(UnsupportedMediaType(request.Header("content-type")));
                return;
            }
            const auto delay =
                faults.Delay() + std::chrono::milliseconds(QueryInt(request, "delay_ms"));
            const bool fail = QueryFlag(request, "fail");
            auto run = [&writer, &faults, decode, fail, respond = std::move(respond),
                        body = std::move(request.body)] {
                // The injected delay comes first, then the injected failure (SPEC section 5),
                // then the handling, as in the consumers.
                if (fail || faults.ShouldFail()) {
                    return respond(http::JsonError(503, "TRANSIENT_FAILURE", "Injected failure"));
                }
                auto decoded = decode(body);
                if (!decoded) {
                    const bool not_json =
                        decoded.error().kind == events::DecodeError::Kind::kNotJson;
                    return respond(
                        http::JsonError(400, not_json ? "INVALID_JSON" : "SCHEMA_VIOLATION",
                                        "The event was rejected", decoded.error().message));
                }
                HandleInStore(writer, std::move(*decoded), respond);
            };
            if (delay.count() == 0) return run();
            auto timer = std::make_shared<boost::asio::steady_timer>(io, delay);
            timer->async_wait([timer, run = std::move(run)](const boost::system::error_code&) {
                run();  // even when cancelled (shutdown): Respond must be called once
            });
        });
}

}  // namespace

void RegisterReserveEndpoint(http::Router& router, boost::asio::io_context& io, StoreWriter& writer,
                             FaultInjector& faults) {
    RegisterEndpoint(router, io, "/reserve", writer, faults,
                     [](const std::string& body) -> std::expected<Decoded, events::DecodeError> {
                         auto order = events::DecodeOrderPlaced(body);
                         if (!order) return std::unexpected(order.error());
                         auto id = order->envelope.event_id;
                         return Decoded{std::move(id),
                                        [order = std::move(*order)](store::UnitOfWork& unit) {
                                            std::vector<std::string> skus;
                                            for (const auto& item : order.items)
                                                skus.push_back(item.sku);
                                            std::sort(skus.begin(), skus.end());
                                            unit.LockStock(skus);
                                            return events::Encode(handlers::ReserveStock(
                                                order, unit.StockRows(), handlers::EventContext{}));
                                        }};
                     });
}

void RegisterSendEndpoint(http::Router& router, boost::asio::io_context& io, StoreWriter& writer,
                          FaultInjector& faults) {
    RegisterEndpoint(
        router, io, "/send", writer, faults,
        [](const std::string& body) -> std::expected<Decoded, events::DecodeError> {
            auto event = events::DecodeInventoryEvent(body);
            if (!event) return std::unexpected(event.error());
            auto id = std::visit([](const auto& e) { return e.envelope.event_id; }, *event);
            return Decoded{std::move(id), [event = std::move(*event)](store::UnitOfWork& unit) {
                               return events::Encode(handlers::SendNotification(
                                   event, unit.NotificationRows(), handlers::EventContext{}));
                           }};
        });
}

}  // namespace orderflow::service
