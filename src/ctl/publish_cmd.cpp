// `orderflowctl publish`: one raw event onto `orders`, with confirm and mandatory, for
// poison and duplicate demos. The properties are derived in messages.cpp (BuildRawMessage).
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ctl/commands.hpp"

namespace orderflow::ctl {
namespace {

std::expected<std::string, std::string> ReadBody(const PublishOptions& options) {
    if (options.body) return *options.body;
    if (*options.file == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin), {});
    }
    std::ifstream file(*options.file, std::ios::binary);
    if (!file) return std::unexpected(fmt::format("cannot read {}", *options.file));
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace

int RunPublish(const GlobalOptions& global, const PublishOptions& options) {
    auto body = ReadBody(options);
    if (!body) return Fail(body.error());
    auto request = options.message;
    request.body = std::move(*body);
    auto message = BuildRawMessage(request, std::chrono::system_clock::now(), events::NewUuid);
    if (!message) {
        fmt::print(stderr, "orderflowctl: {}\n", message.error());
        return kExitUsage;
    }

    auto client = Connect(global, "publish");
    if (!client) return Fail(client.error());
    const auto status = client->Publish(*message);
    const auto& id = message->properties.message_id;
    fmt::print("message_id={} routing_key={} status={}\n", id.empty() ? "-" : id,
               message->routing_key.value, broker::StatusName(status));
    if (status == broker::PublishStatus::kConfirmed) return kExitOk;
    if (status == broker::PublishStatus::kUnroutable) {
        return Fail(fmt::format("no queue is bound to '{}' on exchange '{}' (topology declared?)",
                                message->routing_key.value, message->exchange.value));
    }
    return Fail(
        fmt::format("the broker did not confirm the message ({})", broker::StatusName(status)));
}

}  // namespace orderflow::ctl
