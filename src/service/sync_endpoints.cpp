// POST /reserve and POST /send; see sync_endpoints.hpp.
#include "service/sync_endpoints.hpp"

#include <SQLiteCpp/Transaction.h>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <charconv>
#include <map>
#include <memory>

#include "events/codec.hpp"
#include "handlers/context.hpp"
#include "handlers/inventory.hpp"
#include "handlers/notification.hpp"
#include "service/ingress_api.hpp"
#include "store/database.hpp"
#include "store/inbox.hpp"
#include "store/notifications.hpp"
#include "store/orders.hpp"
#include "store/stock.hpp"

namespace orderflow::service {
namespace {

// The decoded event's id (the idempotency key) and the answer body, or a decode error.
struct Handled {
    std::string event_id;
    std::string body;
};
using SyncHandler =
    std::function<std::expected<Handled, events::DecodeError>(const std::string&, SQLite::Database&)>;

SQLite::Database& ConnectionFor(const std::filesystem::path& path) {
    thread_local std::map<std::string, std::unique_ptr<SQLite::Database>> connections;
    auto& db = connections[path.string()];
    if (!db) {
        db = store::OpenDatabase(path, store::Durability::kFull);
        store::CreateInboxSchema(*db);
        store::IdempotencyTable keys(*db);
    }
    return *db;
}

int QueryInt(const http::Request& request, const char* name) {
    const auto it = request.query.find(name);
    if (it == request.query.end()) return 0;
    int value = 0;
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    return std::clamp(value, 0, 600000);
}

http::Response Handle(const SyncHandler& handler, const std::filesystem::path& path,
                      const std::string& body) {
    try {
        auto& db = ConnectionFor(path);
        SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
        // The event id is only known after decoding; decode first, then check.
        auto handled = handler(body, db);
        if (!handled) {
            const bool not_json = handled.error().kind == events::DecodeError::Kind::kNotJson;
            return http::JsonError(400, not_json ? "INVALID_JSON" : "SCHEMA_VIOLATION",
                                   "The event was rejected", handled.error().message);
        }
        txn.commit();
        return http::Json(200, handled->body);
    } catch (const std::exception& e) {
        return http::JsonError(503, "TRANSIENT_FAILURE", "Store error", e.what());
    }
}

void RegisterEndpoint(http::Router& router, boost::asio::io_context& io, const std::string& path,
                      std::filesystem::path db_path, FaultInjector& faults, SyncHandler handler) {
    router.Add("POST", path, [&io, db_path, &faults, handler](http::Request&& request,
                                                              http::Respond respond) {
        if (!IsJsonContentType(request.Header("content-type"))) {
            respond(http::JsonError(415, "UNSUPPORTED_MEDIA_TYPE", "Send application/json"));
            return;
        }
        const auto delay = faults.Delay() + std::chrono::milliseconds(QueryInt(request, "delay_ms"));
        const bool fail = QueryInt(request, "fail") != 0;
        auto run = [&faults, db_path, handler, fail, respond,
                    body = std::move(request.body)] {
            // The injected delay comes first, then the injected failure (SPEC section 5).
            if (fail || faults.ShouldFail()) {
                respond(http::JsonError(503, "TRANSIENT_FAILURE", "Injected failure"));
                return;
            }
            respond(Handle(handler, db_path, body));
        };
        if (delay.count() == 0) return run();
        auto timer = std::make_shared<boost::asio::steady_timer>(io, delay);
        timer->async_wait([timer, run](const boost::system::error_code&) { run(); });
    });
}

// Runs `effect` once per event id; a repeat answers what the first call answered.
std::expected<Handled, events::DecodeError> Once(
    SQLite::Database& db, const std::string& event_id,
    const std::function<std::string()>& effect) {
    store::IdempotencyTable answers(db);
    if (auto previous = answers.Find(event_id)) return Handled{event_id, previous->response_body};
    auto body = effect();
    answers.Save(store::IdempotencyRecord{event_id, event_id, 200, body},
                 events::ToUnixMillis(std::chrono::system_clock::now()));
    return Handled{event_id, std::move(body)};
}

}  // namespace

void RegisterReserveEndpoint(http::Router& router, boost::asio::io_context& io,
                             std::filesystem::path db_path, FaultInjector& faults) {
    RegisterEndpoint(router, io, "/reserve", std::move(db_path), faults,
                     [](const std::string& body, SQLite::Database& db)
                         -> std::expected<Handled, events::DecodeError> {
                         auto order = events::DecodeOrderPlaced(body);
                         if (!order) return std::unexpected(order.error());
                         return Once(db, order->envelope.event_id, [&] {
                             store::StockTable stock(db);
                             return events::Encode(
                                 handlers::ReserveStock(*order, stock, handlers::EventContext{}));
                         });
                     });
}

void RegisterSendEndpoint(http::Router& router, boost::asio::io_context& io,
                          std::filesystem::path db_path, FaultInjector& faults) {
    RegisterEndpoint(router, io, "/send", std::move(db_path), faults,
                     [](const std::string& body, SQLite::Database& db)
                         -> std::expected<Handled, events::DecodeError> {
                         auto event = events::DecodeInventoryEvent(body);
                         if (!event) return std::unexpected(event.error());
                         const auto& id = std::visit(
                             [](const auto& e) -> const std::string& { return e.envelope.event_id; },
                             *event);
                         return Once(db, id, [&] {
                             store::NotificationTable notifications(db);
                             return events::Encode(handlers::SendNotification(
                                 *event, notifications, handlers::EventContext{}));
                         });
                     });
}

}  // namespace orderflow::service
