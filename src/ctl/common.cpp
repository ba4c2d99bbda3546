// Shared plumbing of the orderflowctl commands; see common.hpp.
#include "ctl/common.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "auth/redact.hpp"

namespace orderflow::ctl {

broker::ConnectionOptions ConnectionFor(const GlobalOptions& options, std::string_view command) {
    broker::ConnectionOptions connection;
    connection.url = options.amqp_url;
    connection.tls_ca_file = options.amqp_ca_file;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    connection.connection_name =
        fmt::format("orderflowctl {} ({}, pid {})", command, host, static_cast<long>(::getpid()));
    return connection;
}

std::expected<broker::Client, std::string> Connect(const GlobalOptions& options,
                                                   std::string_view command) {
    auto client = broker::Client::Connect(ConnectionFor(options, command));
    if (!client) {
        return std::unexpected(
            fmt::format("cannot connect to {}: {}", RedactUrl(options.amqp_url), client.error()));
    }
    return client;
}

std::string RedactUrl(std::string_view url) { return auth::RedactUrl(url); }

std::string FieldText(const broker::FieldValue& value) {
    struct Visitor {
        std::string operator()(std::monostate) const { return "null"; }
        std::string operator()(bool v) const { return v ? "true" : "false"; }
        std::string operator()(int64_t v) const { return std::to_string(v); }
        std::string operator()(double v) const { return fmt::format("{}", v); }
        std::string operator()(const std::string& v) const { return v; }
        std::string operator()(const broker::FieldArray& array) const {
            std::string out = "[";
            for (size_t i = 0; i < array.size(); ++i) {
                if (i > 0) out += ",";
                out += FieldText(array[i]);
            }
            return out + "]";
        }
        std::string operator()(const broker::FieldTable& table) const {
            std::string out = "{";
            bool first = true;
            for (const auto& [name, field] : table) {
                if (!first) out += ",";
                first = false;
                out += name + "=" + FieldText(field);
            }
            return out + "}";
        }
    };
    return std::visit(Visitor{}, value.value);
}

int Fail(std::string_view message) {
    fmt::print(stderr, "orderflowctl: error: {}\n", message);
    return kExitFailure;
}

}  // namespace orderflow::ctl
