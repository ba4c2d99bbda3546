// The live console; see console.hpp.
#include "console/console.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <optional>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "console/admin_token.hpp"
#include "console/assets.hpp"
#include "console/order_lookup.hpp"
#include "console/timeline.hpp"
#include "console/views.hpp"
#include "ctl/dlq_ops.hpp"
#include "ctl/mgmt_api.hpp"
#include "ctl/status_sampler.hpp"
#include "events/codec.hpp"
#include "events/ids.hpp"
#include "telemetry/log.hpp"

namespace orderflow::console {
namespace {

using namespace std::chrono_literals;

// Dead letters read per DLQ for the groups (the depth is always exact; the page says when
// a DLQ holds more than were read).
constexpr size_t kBrowseLimit = 500;
// A DLQ whose depth did not change is browsed again this often anyway (a replay by
// orderflowctl can swap messages without changing the count).
constexpr auto kBrowseEvery = 10s;

int64_t NowMs() { return events::ToUnixMillis(std::chrono::system_clock::now()); }

// The page may only talk to its own origin (SPEC section 10): the browser enforces it.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'";

http::Response AssetResponse(const Asset& asset) {
    http::Response response;
    response.status = 200;
    response.content_type = std::string(asset.content_type);
    response.body = std::string(asset.data);
    response.headers = {{"Cache-Control", "no-cache"},
                        {"Content-Security-Policy", kContentSecurityPolicy},
                        {"X-Content-Type-Options", "nosniff"}};
    return response;
}

http::Response Unavailable(std::string_view details) {
    auto response =
        http::JsonError(503, "BROKER_UNAVAILABLE", "the broker did not answer", details);
    response.headers.emplace_back("Retry-After", "5");
    return response;
}

bool Refused(std::string_view error) { return error.find("ACCESS_REFUSED") != std::string::npos; }

// An error of the DLQ browsing, replay or purge; a refusal by the broker says what to change.
std::string WithAccessHint(std::string error) {
    if (Refused(error)) {
        error +=
            "; the console's broker user may not do this: give the console a user that may "
            "read the DLQs and write amq.default (ORDERFLOW_CONSOLE_AMQP_URL; "
            "orderflow-console of scripts/broker.sh start --users)";
    }
    return error;
}

// The 503 of a replay or purge that failed at the broker. A refusal is no outage: no
// Retry-After, since trying again cannot help.
http::Response DeadLetterUnavailable(std::string_view details) {
    if (!Refused(details)) return Unavailable(details);
    return http::JsonError(503, "BROKER_UNAVAILABLE",
                           "the broker refused the console's broker user",
                           WithAccessHint(std::string(details)));
}

// 401/403 of SPEC section 11, or nullopt when the caller may write.
std::optional<http::Response> Denied(std::string_view token, const http::Request& request) {
    switch (CheckAdmin(token, request.Header("authorization"))) {
        case AdminCheck::kAllowed:
            return std::nullopt;
        case AdminCheck::kUnauthenticated: {
            auto response =
                http::JsonError(401, "UNAUTHENTICATED", "this action needs the admin token",
                                "send Authorization: Bearer <ORDERFLOW_ADMIN_TOKEN>");
            response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"orderflow-console\"");
            return response;
        }
        case AdminCheck::kForbidden:
            if (token.empty()) {
                return http::JsonError(
                    403, "FORBIDDEN", "the console is read-only",
                    "no ORDERFLOW_ADMIN_TOKEN is configured on orderflow-analytics");
            }
            return http::JsonError(403, "FORBIDDEN", "wrong admin token");
    }
    return http::JsonError(403, "FORBIDDEN", "denied");
}

// The body of a write action: a JSON object naming the queue, with optional fields.
struct ActionRequest {
    ctl::QueuePair queues;
    ctl::ReplayRequest replay;
};
std::expected<ActionRequest, http::Response> ParseAction(std::string_view body, bool replay) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        return std::unexpected(http::JsonError(400, "INVALID_JSON", "expected a JSON object",
                                               R"(e.g. {"queue":"inventory.order-placed"})"));
    }
    const auto string_field = [&](const char* name) -> std::optional<std::string> {
        const auto it = doc.FindMember(name);
        if (it == doc.MemberEnd() || it->value.IsNull()) return std::nullopt;
        if (!it->value.IsString()) return std::string("\x01");  // wrong type: flagged below
        return std::string(it->value.GetString(), it->value.GetStringLength());
    };
    const auto bad = [](std::string details) {
        return std::unexpected(
            http::JsonError(400, "SCHEMA_VIOLATION", "invalid request", std::move(details)));
    };
    for (const auto& member : doc.GetObject()) {
        const std::string_view name = member.name.GetString();
        const bool known =
            name == "queue" || (replay && (name == "message_id" || name == "kind" ||
                                           name == "reason" || name == "limit" || name == "force"));
        if (!known) return bad(fmt::format("unknown field '{}'", name));
    }
    const auto queue = string_field("queue");
    if (!queue || *queue == "\x01")
        return bad("'queue' (a work queue or its .dlq name) is required");
    auto queues = ctl::ResolveContractQueue(*queue);
    if (!queues) return bad(queues.error());
    ActionRequest out{*queues, {}};
    for (const auto& [name, target] : {std::pair{"message_id", &out.replay.selection.message_id},
                                       {"kind", &out.replay.selection.kind},
                                       {"reason", &out.replay.selection.reason}}) {
        auto value = string_field(name);
        if (value && *value == "\x01") return bad(fmt::format("'{}' must be a string", name));
        *target = std::move(value);
    }
    if (const auto it = doc.FindMember("limit"); it != doc.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsUint64() || it->value.GetUint64() == 0) {
            return bad("'limit' must be a positive integer");
        }
        out.replay.limit = it->value.GetUint64();
    }
    if (const auto it = doc.FindMember("force"); it != doc.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsBool()) return bad("'force' must be true or false");
        out.replay.force = it->value.GetBool();
    }
    return out;
}

std::string JsonString(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return {buffer.GetString(), buffer.GetSize()};
}

std::string AuditJson(const std::vector<std::string>& lines) {
    std::string out = "[";
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "," : "") + JsonString(lines[i]);
    return out + "]";
}

}  // namespace

std::string CheckDeadLetterUrl(std::string_view amqp_url, std::string_view dead_letter_url) {
    if (dead_letter_url.empty()) return {};
    // A cluster's URL lists its nodes: they share one vhost.
    const auto vhost = [](std::string_view urls) {
        return ctl::VhostOf(urls.substr(0, urls.find(',')));
    };
    if (vhost(dead_letter_url) == vhost(amqp_url)) return {};
    return fmt::format(
        "the console's broker URL is on vhost '{}', the service's on '{}': the console would "
        "show and change another vhost's dead letters",
        vhost(dead_letter_url), vhost(amqp_url));
}

Console::Console(service::Runtime& runtime, std::string admin_token, std::string dead_letter_url)
    : runtime_(runtime),
      admin_token_(std::move(admin_token)),
      dead_letter_url_(std::move(dead_letter_url)) {}

broker::ConnectionOptions Console::DeadLetterConnection(std::string_view role) const {
    auto options = runtime_.Settings().Connection(role);
    if (!dead_letter_url_.empty()) options.url = dead_letter_url_;
    return options;
}

Console::~Console() { Stop(); }

void Console::Observe(const broker::Delivery& delivery, const events::Envelope& envelope) {
    const int64_t now_ms = NowMs();
    model_.OnEvent(ToStreamEvent(delivery, envelope, now_ms), now_ms);
    if (auto offset = delivery.properties.IntHeader("x-stream-offset")) {
        stream_offset_.store(*offset, std::memory_order_relaxed);
    }
}

void Console::Start() {
    auto& router = runtime_.Router();
    router.Add("GET", "/", [](http::Request&&, http::Respond respond) {
        respond(AssetResponse(*FindAsset("index.html")));
    });
    router.Add("GET", "/assets/{name}", [](http::Request&& request, http::Respond respond) {
        const auto* asset = FindAsset(request.params["name"]);
        if (asset == nullptr || asset->name == "index.html") {
            respond(http::JsonError(404, "NOT_FOUND", "no such asset"));
            return;
        }
        respond(AssetResponse(*asset));
    });
    // The documents the sampler publishes; 503 for the second before the first one.
    for (const auto& [path, document, not_yet] :
         {std::tuple{"/api/overview", &overview_json_,
                     "the console has not sampled the broker yet"},
          {"/api/dead-letters", &dead_letters_json_,
           "the console has not browsed the dead-letter queues yet"}}) {
        router.Add("GET", path, [this, document, not_yet](http::Request&&, http::Respond respond) {
            std::string body;
            {
                std::lock_guard lock(mutex_);
                body = *document;
            }
            if (body.empty()) {
                respond(Unavailable(not_yet));
                return;
            }
            respond(http::Json(200, std::move(body)));
        });
    }
    router.Add("GET", "/api/series", [this](http::Request&&, http::Respond respond) {
        respond(http::Json(200, model_.SeriesJson(NowMs())));
    });
    AddOrderRoute();
    AddActionRoutes();
    sampler_ = std::thread([this] { SampleLoop(); });
    admin_.Start();
    lookup_.Start();
    runtime_.OnShutdown([this] { Stop(); });
}

void Console::AddOrderRoute() {
    runtime_.Router().Add(
        "GET", "/api/orders/{id}", [this](http::Request&& request, http::Respond respond) {
            auto id = request.params["id"];
            if (auto body = model_.OrderJson(id)) {
                respond(http::Json(200, std::move(*body)));
                return;
            }
            const auto not_found = [](std::string details) {
                return http::JsonError(404, "NOT_FOUND", "order not found on the stream",
                                       std::move(details));
            };
            if (!UuidV7Millis(id)) {
                respond(not_found(
                    "not an order id of orderflow (a version-7 UUID): the console finds an "
                    "order on the stream by the time its id carries"));
                return;
            }
            // Older than the orders kept in memory: read it back from the stream, off the
            // I/O threads.
            lookup_.Post(
                [this, id = std::move(id), respond = std::move(respond), not_found](bool run) {
                    if (!run) {
                        auto busy = http::JsonError(503, "BROKER_UNAVAILABLE",
                                                    "too many order lookups waiting", "try again");
                        busy.headers.emplace_back("Retry-After", "1");
                        respond(std::move(busy));
                        return;
                    }
                    const auto end = stream_offset_.load(std::memory_order_relaxed);
                    auto found =
                        FindOrderInStream(runtime_.Settings().Connection("console-lookup"), id,
                                          NowMs(), end >= 0 ? std::optional(end) : std::nullopt);
                    if (!found) {
                        respond(Unavailable(found.error()));
                    } else if (!found->json) {
                        respond(not_found(fmt::format(
                            "no event of this order on orders.events from its id's time on ({} "
                            "messages read)",
                            found->scanned)));
                    } else {
                        respond(http::Json(200, std::move(*found->json)));
                    }
                });
        });
}

void Console::AddActionRoutes() {
    auto& router = runtime_.Router();
    for (const bool replay : {true, false}) {
        const auto path = replay ? "/api/dead-letters/replay" : "/api/dead-letters/purge";
        router.Add("POST", path, [this, replay](http::Request&& request, http::Respond respond) {
            // The token before anything else: nobody learns which queues exist without it.
            if (auto denied = Denied(admin_token_, request)) {
                respond(std::move(*denied));
                return;
            }
            auto action = ParseAction(request.body, replay);
            if (!action) {
                respond(std::move(action.error()));
                return;
            }
            admin_.Post([this, replay, action = std::move(*action),
                         respond = std::move(respond)](bool run) {
                if (!run) {
                    respond(Unavailable("too many console actions waiting; try again"));
                    return;
                }
                auto client = broker::Client::Connect(DeadLetterConnection("console-admin"));
                if (!client) {
                    respond(DeadLetterUnavailable(client.error()));
                    return;
                }
                if (auto ok = ctl::CheckQueues(*client, action.queues, replay); !ok) {
                    respond(DeadLetterUnavailable(ok.error()));
                    return;
                }
                std::vector<std::string> audit;
                const auto record = [&](const std::string& line) {
                    auto full = fmt::format("{} at={} by=console", line,
                                            events::FormatTime(std::chrono::system_clock::now()));
                    telemetry::Log(telemetry::LogLevel::kInfo, "dead-letter audit",
                                   {{"audit", std::string_view(full)}});
                    audit.push_back(std::move(full));
                };
                std::string body;
                int status = 200;
                if (replay) {
                    const auto result =
                        ctl::ReplayDeadLetters(*client, action.queues, action.replay, record);
                    record(result.Summary(action.queues));
                    if (!result.error.empty()) {
                        respond(DeadLetterUnavailable(result.error));
                    } else if (result.no_match) {
                        respond(http::JsonError(404, "NOT_FOUND", "no such dead letter",
                                                fmt::format("no message_id {} in {}",
                                                            *action.replay.selection.message_id,
                                                            action.queues.dlq.value)));
                    } else {
                        status = result.failed > 0 ? 502 : 200;
                        body = fmt::format(
                            R"({{"queue":"{}","dlq":"{}","examined":{},"replayed":{},"skipped":{},)"
                            R"("failed":{},"not_selected":{},"audit":{}}})",
                            action.queues.work.value, action.queues.dlq.value, result.examined,
                            result.replayed, result.skipped, result.failed, result.NotSelected(),
                            AuditJson(audit));
                    }
                } else {
                    auto purged = ctl::PurgeDeadLetters(*client, action.queues);
                    if (!purged) {
                        respond(DeadLetterUnavailable(purged.error()));
                    } else {
                        record(fmt::format("purged queue={} dlq={} messages={}",
                                           action.queues.work.value, action.queues.dlq.value,
                                           *purged));
                        body = fmt::format(R"({{"queue":"{}","dlq":"{}","purged":{},"audit":{}}})",
                                           action.queues.work.value, action.queues.dlq.value,
                                           *purged, AuditJson(audit));
                    }
                }
                {
                    std::lock_guard lock(mutex_);
                    refresh_dead_letters_ = true;
                }
                wake_.notify_all();
                if (!body.empty()) respond(http::Json(status, std::move(body)));
            });
        });
    }
}

void Console::Stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (sampler_.joinable()) sampler_.join();
    admin_.Stop();
    lookup_.Stop();
}

void Console::SampleLoop() {
    const auto& config = runtime_.Settings();
    // A cluster's URL lists its nodes: they share one vhost.
    const std::string first_url = config.amqp_url.substr(0, config.amqp_url.find(','));
    const auto vhost = ctl::VhostOf(first_url);
    auto mgmt = ctl::ParseHttpUrl(config.mgmt_url);
    const std::string mgmt_error = mgmt ? std::string() : "ORDERFLOW_MGMT_URL: " + mgmt.error();
    ctl::StatusSampler sampler(config.Connection("console"), mgmt ? *mgmt : ctl::HttpUrl{}, vhost);
    std::optional<broker::Client> browser;
    std::map<std::string, int64_t> browsed_depths;
    auto browsed_at = std::chrono::steady_clock::now() - kBrowseEvery;
    auto next = std::chrono::steady_clock::now();
    while (true) {
        const int64_t now_ms = NowMs();
        OverviewInput input;
        input.now_ms = now_ms;
        input.read_only = admin_token_.empty();
        input.vhost = vhost;
        if (auto snapshot = sampler.Sample()) {
            input.status = std::move(*snapshot);
        } else {
            input.status_error = snapshot.error();
        }
        if (!mgmt) {
            input.replicas_error = mgmt_error;
        } else {
            const auto encoded = ctl::PercentEncode(vhost);
            auto connections = ctl::HttpGet(*mgmt, "/api/vhosts/" + encoded + "/connections", 3s);
            auto consumers = ctl::HttpGet(*mgmt, "/api/consumers/" + encoded, 3s);
            if (connections && consumers) {
                auto replicas = ParseReplicas(*connections, *consumers);
                if (replicas) {
                    input.replicas = std::move(*replicas);
                } else {
                    input.replicas_error = replicas.error();
                }
            } else {
                input.replicas_error =
                    "replicas unknown: " + (connections ? consumers.error() : connections.error());
            }
        }
        using events::EventType;
        const auto rate = [&](EventType type) { return model_.ArrivalRate(type, now_ms); };
        const double reserved = rate(EventType::kInventoryReserved);
        const double rejected = rate(EventType::kInventoryRejected);
        input.in_rates = {{broker::kInventoryQueue.value, rate(EventType::kOrderPlaced)},
                          {broker::kNotificationQueue.value, reserved + rejected},
                          {broker::kOrderStatusQueue.value,
                           reserved + rejected + rate(EventType::kNotificationSent)}};
        input.seen = model_.Seen();
        input.orders_kept = model_.OrdersKept();
        if (const auto offset = stream_offset_.load(std::memory_order_relaxed); offset >= 0) {
            input.stream_last_offset = offset;
        }

        std::map<std::string, int64_t> depths, dlq_depths;
        if (input.status) {
            for (const auto& queue : input.status->queues) {
                depths[queue.name] = queue.ready;
                dlq_depths[queue.name] = queue.dlq_ready;
            }
            model_.OnDepths(now_ms, depths);
        }
        auto overview = OverviewJson(input);

        bool refresh = false;
        {
            std::lock_guard lock(mutex_);
            overview_json_ = std::move(overview);
            refresh = refresh_dead_letters_;
            refresh_dead_letters_ = false;
        }
        // Browse the DLQs when their depths changed, after a console action, and now and then.
        const auto steady = std::chrono::steady_clock::now();
        if (input.status &&
            (refresh || dlq_depths != browsed_depths || steady - browsed_at >= kBrowseEvery)) {
            std::vector<DlqBrowse> browsed;
            std::string connect_error;  // shown on each DLQ that has letters to browse
            if (!browser) {
                auto client = broker::Client::Connect(DeadLetterConnection("console-dlq"));
                if (client) {
                    browser.emplace(std::move(*client));
                } else {
                    connect_error = WithAccessHint(client.error());
                }
            }
            bool ok = browser.has_value();
            for (const auto& work : broker::WorkQueues()) {
                DlqBrowse dlq{work.value,
                              broker::DeadLetterQueue(work).value,
                              dlq_depths[work.value],
                              {},
                              {}};
                if (browser && dlq.messages > 0) {
                    auto letters =
                        ctl::BrowseDeadLetters(*browser, broker::QueueName{dlq.dlq}, kBrowseLimit);
                    if (letters) {
                        dlq.letters = std::move(*letters);
                    } else {
                        dlq.error = WithAccessHint(letters.error());
                        ok = false;
                    }
                } else if (dlq.messages > 0) {
                    dlq.error = connect_error;
                }
                browsed.push_back(std::move(dlq));
            }
            if (!ok) browser.reset();  // reconnect next time
            browsed_depths = dlq_depths;
            browsed_at = steady;
            auto document = DeadLettersJson(now_ms, browsed, kBrowseLimit);
            std::lock_guard lock(mutex_);
            dead_letters_json_ = std::move(document);
        }

        next += 1s;
        if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now();
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, next, [&] { return stopping_ || refresh_dead_letters_; })) {
            if (stopping_) return;
            next = std::chrono::steady_clock::now();  // an action asked for a fresh look
        }
    }
}

}  // namespace orderflow::console
