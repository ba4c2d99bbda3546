// The HTTP side of the synchronous chain: inventory's POST /reserve and notification's
// POST /send call the same decode + handle pair as the AMQP consumers and map the
// outcome to HTTP (done 200, poison 400, transient 503). A repeated call with the same
// event_id returns the first answer and changes nothing (the caller retries on timeouts).
//
// Threading: handlers run on I/O threads; an injected delay waits on an Asio timer, never
// by blocking the thread; each I/O thread has its own SQLite connection.
#pragma once

#include <boost/asio/io_context.hpp>

#include <filesystem>

#include "http/server.hpp"
#include "service/fault.hpp"

namespace orderflow::service {

void RegisterReserveEndpoint(http::Router& router, boost::asio::io_context& io,
                             std::filesystem::path db_path, FaultInjector& faults);
void RegisterSendEndpoint(http::Router& router, boost::asio::io_context& io,
                          std::filesystem::path db_path, FaultInjector& faults);

}  // namespace orderflow::service
