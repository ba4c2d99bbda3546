// Read-only endpoints and the inventory seed file.
#include "service/queries.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <sstream>

#include "service/store_access.hpp"

namespace orderflow::service {
namespace {}  // namespace

std::string JsonString(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return {buffer.GetString(), buffer.GetSize()};
}

void RegisterInventoryQueries(http::Router& router, store::Store& store) {
    router.Add("GET", "/inventory", [&store](http::Request&&, http::Respond respond) {
        auto levels = ReaderSession(store).StockLevels();
        if (!levels) return respond(StoreUnavailable(levels.error()));
        std::string body = "{";
        for (const auto& [sku, quantity] : *levels) {
            if (body.size() > 1) body += ",";
            body += fmt::format("{}:{}", JsonString(sku), quantity);
        }
        respond(http::Json(200, body + "}"));
    });
}

void RegisterNotificationQueries(http::Router& router, store::Store& store) {
    router.Add("GET", "/notifications", [&store](http::Request&& request, http::Respond respond) {
        const auto it = request.query.find("order_id");
        if (it == request.query.end() || it->second.empty()) {
            respond(http::JsonError(400, "SCHEMA_VIOLATION", "order_id query parameter required"));
            return;
        }
        auto records = ReaderSession(store).NotificationsFor(it->second);
        if (!records) return respond(StoreUnavailable(records.error()));
        std::string list;
        for (const auto& record : *records) {
            if (!list.empty()) list += ",";
            list += fmt::format(R"({{"order_id":{},"outcome":{},"message":{},"at":{}}})",
                                JsonString(record.order_id), JsonString(record.outcome),
                                JsonString(record.message), JsonString(record.at));
        }
        respond(http::Json(200, fmt::format(R"({{"notifications":[{}]}})", list)));
    });
}

std::expected<std::map<std::string, int64_t>, std::string> LoadSeed(
    const std::filesystem::path& path) {
    std::ifstream file(path);
    if (!file) return std::unexpected(fmt::format("cannot read {}", path.string()));
    std::stringstream text;
    text << file.rdbuf();
    rapidjson::Document doc;
    doc.Parse(text.str().c_str());
    if (doc.HasParseError() || !doc.IsObject()) {
        return std::unexpected(
            fmt::format("{}: expected a JSON object {{\"sku\": quantity}}", path.string()));
    }
    std::map<std::string, int64_t> seed;
    for (const auto& member : doc.GetObject()) {
        if (!member.value.IsInt64() || member.value.GetInt64() < 0) {
            return std::unexpected(fmt::format("{}: quantity of '{}' must be a whole number >= 0",
                                               path.string(), member.name.GetString()));
        }
        seed[member.name.GetString()] = member.value.GetInt64();
    }
    return seed;
}

}  // namespace orderflow::service
