// Constant-time secret comparison and bearer tokens; see secret.hpp.
#include "auth/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <stdexcept>

namespace orderflow::auth {

Digest Sha256(std::string_view data) {
    Digest digest{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
        size != digest.size()) {
        throw std::runtime_error("SHA-256 failed");  // only without a working libcrypto
    }
    return digest;
}

bool DigestsEqual(const Digest& a, const Digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool SecretEquals(std::string_view presented, std::string_view secret) {
    return DigestsEqual(Sha256(presented), Sha256(secret));
}

bool IsB64Token(std::string_view token) {
    size_t i = 0;
    for (; i < token.size(); ++i) {
        const auto c = static_cast<unsigned char>(token[i]);
        if (std::isalnum(c) == 0 && c != '-' && c != '.' && c != '_' && c != '~' && c != '+' &&
            c != '/') {
            break;
        }
    }
    if (i == 0) return false;
    for (; i < token.size(); ++i) {
        if (token[i] != '=') return false;
    }
    return true;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
    constexpr std::string_view kScheme = "bearer";
    if (authorization.size() <= kScheme.size()) return std::nullopt;
    for (size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
            return std::nullopt;
        }
    }
    auto rest = authorization.substr(kScheme.size());
    if (rest.front() != ' ') return std::nullopt;
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    if (!IsB64Token(rest)) return std::nullopt;
    return rest;
}

}  // namespace orderflow::auth
