// Plumbing shared by the orderflowctl commands: global options, exit codes, connecting,
// and how header values and URLs are shown to an operator.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "broker/client.hpp"
#include "broker/connection_options.hpp"
#include "broker/message.hpp"

namespace orderflow::ctl {

// SPEC section 7: 0 success, 1 runtime failure, 2 usage error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
    std::string amqp_url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    std::string mgmt_url = "http://guest:guest@127.0.0.1:15672";
    std::string amqp_ca_file;  // PEM CA for amqps:// and https:// (empty: system trust store)
};

// Named "orderflowctl <command> (host, pid N)" so the management UI shows who holds what.
broker::ConnectionOptions ConnectionFor(const GlobalOptions& options, std::string_view command);
std::expected<broker::Client, std::string> Connect(const GlobalOptions& options,
                                                   std::string_view command);

// The URL with its password replaced by "***": error messages end up in terminals and logs.
std::string RedactUrl(std::string_view url);

// A header value as text: strings as they are, numbers in decimal, tables and arrays in a
// compact JSON-like form (x-death).
std::string FieldText(const broker::FieldValue& value);

// "error: ..." on stderr; returns kExitFailure so commands can `return Fail(...)`.
int Fail(std::string_view message);

}  // namespace orderflow::ctl
