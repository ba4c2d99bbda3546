// The HTTP side of the synchronous chain: inventory's POST /reserve and notification's
// POST /send call the same decode + handle pair as the AMQP consumers, on the same store,
// and map the outcome to HTTP (done 200, poison 400, transient 503). Like the consumers
// they record the event id in the processed-message-id table, in the same transaction as
// the effect; a repeated event_id changes nothing and gets the first answer again (the
// ingress retries after timeouts with the same event). An id already processed through
// the broker gets 409 ALREADY_PROCESSED.
//
// Fault injection: ORDERFLOW_INJECT_DELAY_MS / _FAIL_RATE (the service's FaultInjector,
// shared with its consumer) plus ?delay_ms=N and ?fail=1 per request; the delay comes
// first, then the failure (503), then the handling.
//
// Threading: handlers run on I/O threads and never block them: an injected delay waits on
// an Asio timer, the store work runs on the StoreWriter's thread (group commit), and the
// answer goes back through Respond.
#pragma once

#include <boost/asio/io_context.hpp>

#include "http/server.hpp"
#include "service/fault.hpp"
#include "service/store_writer.hpp"

namespace orderflow::service {

// `writer` must write the service's database with Durability::kFull.
void RegisterReserveEndpoint(http::Router& router, boost::asio::io_context& io, StoreWriter& writer,
                             FaultInjector& faults);
void RegisterSendEndpoint(http::Router& router, boost::asio::io_context& io, StoreWriter& writer,
                          FaultInjector& faults);

}  // namespace orderflow::service
