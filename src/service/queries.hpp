// Read-only HTTP endpoints of the consuming services: GET /inventory and
// GET /notifications?order_id=. Reads use one SQLite connection per I/O thread.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <string>

#include "http/server.hpp"

namespace orderflow::service {

void RegisterInventoryQueries(http::Router& router, std::filesystem::path db_path);
void RegisterNotificationQueries(http::Router& router, std::filesystem::path db_path);

// ORDERFLOW_INVENTORY_SEED: a JSON object {"sku": quantity}.
std::expected<std::map<std::string, int64_t>, std::string> LoadSeed(
    const std::filesystem::path& path);

// A JSON string literal with escaping (for values that are not known to be safe).
std::string JsonString(std::string_view text);

}  // namespace orderflow::service
