// Read-only HTTP endpoints of the consuming services: GET /inventory and
// GET /notifications?order_id=. Reads use one store session per I/O thread.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <string>

#include "http/server.hpp"
#include "store/store.hpp"

namespace orderflow::service {

void RegisterInventoryQueries(http::Router& router, store::Store& store);
void RegisterNotificationQueries(http::Router& router, store::Store& store);

// ORDERFLOW_INVENTORY_SEED: a JSON object {"sku": quantity}.
std::expected<std::map<std::string, int64_t>, std::string> LoadSeed(
    const std::filesystem::path& path);

// A JSON string literal with escaping (for values that are not known to be safe).
std::string JsonString(std::string_view text);

}  // namespace orderflow::service
