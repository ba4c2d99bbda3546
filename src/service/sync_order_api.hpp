// POST /orders/sync on the ingress: the same order as POST /orders, taken through the
// synchronous chain instead of the broker: inventory POST /reserve, then notification
// POST /send with the inventory event it got back. Answers 200 with the outcome, 502
// UPSTREAM_FAILED, 503 CIRCUIT_OPEN or 504 UPSTREAM_TIMEOUT (SPEC section 5). The stages
// an order reached are recorded in the order-status projection, so GET /orders/{id}
// works for sync orders too.
//
// Threading: the handler runs on an I/O thread and never blocks: the calls complete on
// the HTTP client's strand, the projection write on the store writer's thread, and the
// answer goes back through Respond, which is safe from any thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include "http/server.hpp"
#include "service/config.hpp"
#include "service/store_writer.hpp"
#include "service/sync_caller.hpp"

namespace orderflow::service {

class SyncOrderApi final {
  public:
    // The targets' URLs were checked when the configuration was parsed.
    SyncOrderApi(boost::asio::any_io_executor executor, const Config& config,
                 telemetry::Registry& metrics, StoreWriter& writer);
    void Register(http::Router& router);

  private:
    struct Flow;
    void PostSyncOrder(http::Request&& request, http::Respond respond);
    void OnReserved(const std::shared_ptr<Flow>& flow, SyncCallResult result);
    void OnSent(const std::shared_ptr<Flow>& flow, SyncCallResult result);
    // Records the stages reached, then answers (so a GET after the answer sees them).
    void RecordThenRespond(const std::shared_ptr<Flow>& flow, http::Response response);

    SyncCaller inventory_;
    SyncCaller notification_;
    StoreWriter& writer_;
};

// The caller options of one target from the configuration (timeout, retries, backoff,
// breaker).
SyncCallOptions SyncCallOptionsFor(const Config& config, std::string target, std::string url);

// The answer for a call that did not succeed: 503 CIRCUIT_OPEN, 504 UPSTREAM_TIMEOUT or
// 502 UPSTREAM_FAILED (a failure after retries, or a refusal).
http::Response UpstreamError(const SyncCallResult& result, std::string_view target,
                             std::string_view order_id);

}  // namespace orderflow::service
