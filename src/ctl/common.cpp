// Shared plumbing of the orderflowctl commands; see common.hpp.
#include "ctl/common.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace orderflow::ctl {

broker::ConnectionOptions ConnectionFor(const GlobalOptions& options, std::string_view command) {
    broker::ConnectionOptions connection;
    connection.url = options.amqp_url;
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

namespace {

std::string RedactOneUrl(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const auto authority_start = scheme + 3;
    const auto authority_end = url.find('/', authority_start);
    const auto at = url.rfind('@', authority_end);
    if (at == std::string_view::npos || at < authority_start) return std::string(url);
    const auto colon = url.find(':', authority_start);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return fmt::format("{}***{}", url.substr(0, colon + 1), url.substr(at));
}

}  // namespace

std::string RedactUrl(std::string_view url) {
    // A cluster's URL lists its nodes separated by commas: each has its password.
    std::string out;
    while (true) {
        const auto comma = url.find(',');
        out += RedactOneUrl(url.substr(0, comma));
        if (comma == std::string_view::npos) break;
        out += ',';
        url.remove_prefix(comma + 1);
    }
    return out;
}

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
