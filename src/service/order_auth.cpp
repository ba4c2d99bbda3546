// API keys in front of the order routes; see order_auth.hpp.
#include "service/order_auth.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "auth/secret.hpp"
#include "events/codec.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {
namespace {

http::Response Unauthenticated(std::string_view message, bool invalid_token) {
    auto response = http::JsonError(401, "UNAUTHENTICATED", message);
    // RFC 6750: error="invalid_token" when a token was sent but is not accepted.
    response.headers.emplace_back(
        "WWW-Authenticate", invalid_token ? R"(Bearer realm="orderflow", error="invalid_token")"
                                          : R"(Bearer realm="orderflow")");
    return response;
}

}  // namespace

void AddApiKeysOption(CLI::App& app, std::string& file) {
    app.add_option("--api-keys", file,
                   "JSON file {\"<key>\": \"<user_id>\"}: orders then need Authorization: "
                   "Bearer <key> of their user (empty: no authentication)")
        ->envname("ORDERFLOW_API_KEYS");
}

std::expected<std::shared_ptr<const auth::ApiKeys>, std::string> LoadApiKeys(
    const std::string& file) {
    if (file.empty()) return std::shared_ptr<const auth::ApiKeys>();
    auto keys = auth::ApiKeys::Load(file);
    if (!keys) {
        auto message = fmt::format("ORDERFLOW_API_KEYS: {}", keys.error());
        telemetry::Log(telemetry::LogLevel::kError, "cannot load the API keys",
                       {{"error", message}});
        return std::unexpected(std::move(message));
    }
    telemetry::Log(telemetry::LogLevel::kInfo, "API keys loaded: orders need a bearer key",
                   {{"file", file}, {"keys", static_cast<int64_t>(keys->Size())}});
    return std::make_shared<const auth::ApiKeys>(std::move(*keys));
}

http::Handler RequireApiKey(std::shared_ptr<const auth::ApiKeys> keys, http::Handler inner) {
    return [keys = std::move(keys), inner = std::move(inner)](http::Request&& request,
                                                              http::Respond respond) {
        const auto* header = request.Header("authorization");
        if (header == nullptr) {
            respond(Unauthenticated("Send Authorization: Bearer <API key>", false));
            return;
        }
        const auto token = auth::BearerToken(*header);
        const auto user = token ? keys->UserOf(*token) : std::nullopt;
        if (!user) {
            respond(Unauthenticated("The API key is unknown or malformed", true));
            return;
        }
        // A body that is not a valid order goes on to the handler, which answers 400 or 415.
        if (auto order = events::DecodeOrderRequest(request.body);
            order && order->user_id != *user) {
            respond(http::JsonError(403, "FORBIDDEN",
                                    "This API key may place orders for its own user only"));
            return;
        }
        inner(std::move(request), std::move(respond));
    };
}

void ProtectOrderRoutes(http::Router& router, const std::shared_ptr<const auth::ApiKeys>& keys) {
    int wrapped = 0;
    for (const char* pattern : {"/orders", "/order", "/orders/sync"}) {
        if (router.Wrap("POST", pattern, [&keys](http::Handler inner) {
                return RequireApiKey(keys, std::move(inner));
            })) {
            ++wrapped;
        }
    }
    if (wrapped == 0) throw std::logic_error("ProtectOrderRoutes: no order route registered");
}

}  // namespace orderflow::service
