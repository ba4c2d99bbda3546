// API keys in front of the ingress's order routes (SPEC section 11): with ORDERFLOW_API_KEYS
// set, POST /orders, /order and /orders/sync need "Authorization: Bearer <key>" of the file
// (else 401 UNAUTHENTICATED with WWW-Authenticate: Bearer) and a user_id that is the key's
// user (else 403 FORBIDDEN). The check runs before the route's handler, so nothing is
// stored or published for a refused request. Keys are never logged.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "auth/api_keys.hpp"
#include "http/server.hpp"

namespace orderflow::service {

// --api-keys / ORDERFLOW_API_KEYS: the path of the keys file (empty: no authentication).
void AddApiKeysOption(CLI::App& app, std::string& file);

// Reads the keys file for a service's start. nullptr when `file` is empty; on a missing,
// unreadable or malformed file, logs why and returns the error (the caller exits 2).
std::expected<std::shared_ptr<const auth::ApiKeys>, std::string> LoadApiKeys(
    const std::string& file);

// `inner` behind the key check: 401 without a known key; 403 when the body is a valid order
// for another user; otherwise `inner` answers (including 400/415 for a bad body).
http::Handler RequireApiKey(std::shared_ptr<const auth::ApiKeys> keys, http::Handler inner);

// Puts RequireApiKey in front of POST /orders, /order and /orders/sync of `router` (those
// registered; throws std::logic_error when none is).
void ProtectOrderRoutes(http::Router& router, const std::shared_ptr<const auth::ApiKeys>& keys);

}  // namespace orderflow::service
