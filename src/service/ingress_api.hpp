// HTTP adapter of the ingress: POST /orders (and /order) publishes OrderPlaced and
// answers 202 only after the broker's confirm; GET /orders/{id} reads the projection.
//
// Threading: handlers run on the I/O threads; a publish completes on the publisher
// thread and the store write on the writer thread; answers go back through Respond,
// which is safe from any thread. Reads use one store session per I/O thread. On a
// shared store (PostgreSQL, replicas) an Idempotency-Key's in-flight state is kept there.
#pragma once

#include <atomic>
#include <expected>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "broker/publisher.hpp"
#include "events/events.hpp"
#include "http/server.hpp"
#include "service/store_writer.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

// The event of an earlier request with the same Idempotency-Key whose publish got no
// confirm. It may have reached the queue, so a retry publishes it again (same message_id:
// the consumers' inbox drops the copy) instead of placing a second order.
struct UnconfirmedOrder {
    std::string order_id;
    std::string event_id;
    std::string occurred_at;
};

class IngressApi final {
  public:
    IngressApi(broker::Publisher& publisher, StoreWriter& writer, store::Store& store,
               telemetry::Registry& metrics);
    void Register(http::Router& router);

  private:
    void PostOrder(http::Request&& request, http::Respond respond);
    void GetOrder(http::Request&& request, http::Respond respond);
    enum class KeyClaim { kAnswered, kNew, kRetry };
    // For a request carrying an Idempotency-Key: answers it from what is known about the
    // key (kAnswered: the first answer replayed, 409 or 422), or claims the key for it,
    // as new (to publish `planned`, which the shared store notes with the claim) or as the
    // retry of `retry`.
    KeyClaim ClaimKey(const std::string& key, const std::string& fingerprint,
                      const UnconfirmedOrder& planned, const http::Respond& respond,
                      UnconfirmedOrder& retry);
    // A publish without a confirm: notes its event under the key (if any), answers 503.
    void Unconfirmed(const std::string& key, const std::string& fingerprint,
                     const UnconfirmedOrder& order, broker::PublishStatus status,
                     const http::Respond& respond);
    // The store error if the database did not answer lately.
    std::optional<store::StoreError> StoreDown();
    void Finish(const std::string& key, const std::string& fingerprint, http::Response response,
                const http::Respond& respond);

    broker::Publisher& publisher_;
    StoreWriter& writer_;
    store::Store& store_;
    telemetry::Registry& metrics_;
    std::atomic<int64_t> store_checked_ms_{0};
    std::atomic<bool> store_up_{true};
    std::mutex in_flight_mutex_;
    std::map<std::string, std::string> in_flight_;  // Idempotency-Key -> request fingerprint
};

// "application/json", "application/json; charset=utf-8" or absent: JSON. Anything else: no.
bool IsJsonContentType(const std::string* content_type);
// The 415 for any other media type: names what was received and how to send JSON (curl -d
// sends application/x-www-form-urlencoded, the usual way to land here).
http::Response UnsupportedMediaType(const std::string* content_type);

// The checks POST /orders and POST /orders/sync share: the media type (415) and the order
// request schema (400 INVALID_JSON / SCHEMA_VIOLATION). The error is the answer to send.
std::expected<events::OrderRequest, http::Response> ParseOrderRequest(const http::Request& request);
// A new OrderPlaced for a valid request: fresh event and order ids, occurred now.
events::OrderPlaced NewOrderPlaced(const events::OrderRequest& order);
// The traceparent for a request's hops: a child of the client's valid traceparent, else
// a new trace.
std::string RequestTraceparent(const http::Request& request);

}  // namespace orderflow::service
