// Comparing secrets without telling an attacker, through the time it takes, how much of a
// guess was right; and reading the bearer token of an Authorization header.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace orderflow::auth {

using Digest = std::array<unsigned char, 32>;  // SHA-256

Digest Sha256(std::string_view data);

// Equal digests, compared in time independent of where they differ (CRYPTO_memcmp).
bool DigestsEqual(const Digest& a, const Digest& b);

// True when `presented` equals `secret`. Both are hashed first and the digests compared in
// constant time, so neither the length of the secret nor the length of the common prefix
// shows in the time taken.
bool SecretEquals(std::string_view presented, std::string_view secret);

// The token of "Bearer <token>" (scheme case-insensitive, RFC 6750 b64token syntax: letters,
// digits, -._~+/ and trailing '='), or nullopt for any other scheme or syntax.
std::optional<std::string_view> BearerToken(std::string_view authorization);

// True when `token` has the b64token syntax of RFC 6750 (what BearerToken accepts).
bool IsB64Token(std::string_view token);

}  // namespace orderflow::auth
