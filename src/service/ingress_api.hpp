// HTTP adapter of the ingress: POST /orders (and /order) publishes OrderPlaced and
// answers 202 only after the broker's confirm; GET /orders/{id} reads the projection.
//
// Threading: handlers run on the I/O threads; a publish completes on the publisher
// thread and the store write on the writer thread; answers go back through Respond,
// which is safe from any thread. Reads use one SQLite connection per I/O thread.
#pragma once

#include <expected>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "broker/publisher.hpp"
#include "events/events.hpp"
#include "http/server.hpp"
#include "service/store_writer.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

class IngressApi final {
  public:
    IngressApi(broker::Publisher& publisher, StoreWriter& writer, std::filesystem::path db_path,
               telemetry::Registry& metrics);
    void Register(http::Router& router);

  private:
    void PostOrder(http::Request&& request, http::Respond respond);
    void GetOrder(http::Request&& request, http::Respond respond);
    // Answers a request carrying an Idempotency-Key from what is known about the key;
    // false when the request is new and must proceed.
    bool AnswerKnownKey(const std::string& key, const std::string& fingerprint,
                        const http::Respond& respond);
    void Finish(const std::string& key, const std::string& fingerprint, http::Response response,
                const http::Respond& respond);

    broker::Publisher& publisher_;
    StoreWriter& writer_;
    std::filesystem::path db_path_;
    telemetry::Registry& metrics_;
    std::mutex in_flight_mutex_;
    std::map<std::string, std::string> in_flight_;  // Idempotency-Key -> request fingerprint
};

// "application/json", "application/json; charset=utf-8" or absent: JSON. Anything else: no.
bool IsJsonContentType(const std::string* content_type);

// The checks POST /orders and POST /orders/sync share: the media type (415) and the order
// request schema (400 INVALID_JSON / SCHEMA_VIOLATION). The error is the answer to send.
std::expected<events::OrderRequest, http::Response> ParseOrderRequest(const http::Request& request);
// A new OrderPlaced for a valid request: fresh event and order ids, occurred now.
events::OrderPlaced NewOrderPlaced(const events::OrderRequest& order);
// The traceparent for a request's hops: a child of the client's valid traceparent, else
// a new trace.
std::string RequestTraceparent(const http::Request& request);

}  // namespace orderflow::service
