// libFuzzer target: raw bytes from a client, through what a session does with them. Beast's
// request parser with the server's limits (pipelined requests included), our conversion to a
// Request (target, query, headers), the router with the ingress's routes and the order
// decoding behind POST /orders, then the answer's framing. Invariants beyond "no crash":
// every answer is a valid status with a JSON body that is valid UTF-8, and it serializes.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

#include "auth/api_keys.hpp"
#include "events/codec.hpp"
#include "events/ids.hpp"
#include "http/impl/wire.hpp"
#include "http/server.hpp"

namespace {

namespace bhttp = boost::beast::http;
using orderflow::http::Request;
using orderflow::http::Respond;
using orderflow::http::Response;

constexpr size_t kBodyLimit = 64 * 1024;  // as ServerOptions::body_limit
constexpr int kMaxPipelined = 8;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
}

// The ingress's routes, with handlers that do what the real ones do before they touch the
// broker or the store.
orderflow::http::Router MakeRouter() {
    orderflow::http::Router router;
    // SPEC section 11: with API keys, the key check the ingress puts in front of the order
    // routes (service/order_auth.cpp), here with the functions it calls: a request with an
    // Authorization header must carry a known bearer key of the order's user.
    static const auto keys =
        orderflow::auth::ApiKeys::Parse(R"({"fuzz-key-0123456789abcdef":"alice"})");
    if (!keys) Fail("fuzz API keys", keys.error());
    auto post = [](Request&& request, Respond respond) {
        std::optional<std::string> key_user;
        if (const auto* authorization = request.Header("authorization")) {
            const auto token = orderflow::auth::BearerToken(*authorization);
            key_user = token ? keys->UserOf(*token) : std::nullopt;
            if (!key_user) {
                respond(orderflow::http::JsonError(401, "UNAUTHENTICATED", "unknown key"));
                return;
            }
        }
        auto decoded = orderflow::events::DecodeOrderRequest(request.body);
        if (!decoded) {
            respond(orderflow::http::JsonError(400, "SCHEMA_VIOLATION", "bad order",
                                               decoded.error().message));
            return;
        }
        if (key_user && *key_user != decoded->user_id) {
            respond(orderflow::http::JsonError(403, "FORBIDDEN", "another user's key"));
            return;
        }
        orderflow::events::OrderPlaced order;
        order.envelope.event_id = "6f1c1f5e-3d2a-4b7e-9c1d-2a3b4c5d6e7f";
        order.envelope.order_id = "0b0f4a56-8d1e-4c3b-a2f1-9e8d7c6b5a40";
        order.envelope.occurred_at = "2026-11-21T12:00:00.000Z";
        order.user_id = decoded->user_id;
        order.items = decoded->items;
        // An accepted request must always form a valid event.
        const auto body = orderflow::events::Encode(order);
        if (auto valid = orderflow::events::Validate(order.envelope.type, body); !valid) {
            Fail("accepted order does not validate", valid.error().message);
        }
        respond(orderflow::http::Json(202, R"({"status":"accepted"})"));
    };
    router.Add("POST", "/orders", post);
    router.Add("POST", "/order", post);
    router.Add("POST", "/orders/sync", post);
    router.Add("GET", "/orders/{id}", [](Request&& request, Respond respond) {
        const auto& id = request.params["id"];
        if (!orderflow::events::IsUuid(id)) {
            respond(orderflow::http::JsonError(404, "NOT_FOUND", "No such order", id));
            return;
        }
        respond(orderflow::http::Json(200, R"({"order_id":")" + id + R"("})"));
    });
    router.Add("GET", "/healthz", [](Request&&, Respond respond) {
        respond(orderflow::http::Json(200, R"({"status":"ok"})"));
    });
    return router;
}

void CheckAnswer(Response response, unsigned version, bool keep_alive) {
    if (response.status < 200 || response.status > 599) {
        Fail("status", std::to_string(response.status));
    }
    rapidjson::Document json;
    json.Parse<rapidjson::kParseValidateEncodingFlag>(response.body.data(), response.body.size());
    if (json.HasParseError()) {
        Fail("answer is not JSON",
             std::string(rapidjson::GetParseError_En(json.GetParseError())) + ": " + response.body);
    }
    auto out = orderflow::http::impl::ToBeastResponse(std::move(response), version, keep_alive);
    std::ostringstream wire;
    wire << out;
    if (wire.str().find("\r\n\r\n") == std::string::npos) Fail("framing", wire.str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const orderflow::http::Router router = MakeRouter();
    std::string_view input(reinterpret_cast<const char*>(data), size);
    for (int n = 0; n < kMaxPipelined && !input.empty(); ++n) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(kBodyLimit);
        parser.eager(true);
        boost::beast::error_code ec;
        size_t used = 0;
        while (!parser.is_done() && used < input.size()) {
            const size_t step =
                parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
            used += step;
            if (ec == bhttp::error::need_more) {
                ec = {};
                if (step == 0) break;  // Beast wants more than the input has
                continue;
            }
            if (ec) break;
        }
        if (!ec && !parser.is_done()) parser.put_eof(ec);
        if (ec || !parser.is_done()) {
            // The session answers 400/413/431 with a fixed JSON error and closes.
            CheckAnswer(orderflow::http::JsonError(400, "BAD_REQUEST", "Malformed HTTP request",
                                                   ec.message()),
                        11, false);
            return 0;
        }
        auto& message = parser.get();
        Request request = orderflow::http::impl::ToRequest(message);
        request.body = std::move(message.body());
        const unsigned version = message.version();
        const bool keep_alive = message.keep_alive();
        int answers = 0;
        router.Handle(std::move(request), [&](Response response) {
            ++answers;
            CheckAnswer(std::move(response), version, keep_alive);
        });
        if (answers != 1) Fail("answers", std::to_string(answers));
        input.remove_prefix(used);
    }
    return 0;
}
