// API keys file and constant-time lookup; see api_keys.hpp.
#include "auth/api_keys.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace orderflow::auth {

std::expected<ApiKeys, std::string> ApiKeys::Load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return std::unexpected(
            fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        return std::unexpected(
            fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
    }
    auto keys = Parse(text.str());
    if (!keys) return std::unexpected(fmt::format("{}: {}", file.string(), keys.error()));
    return keys;
}

std::expected<ApiKeys, std::string> ApiKeys::Parse(std::string_view json) {
    rapidjson::Document document;
    document.Parse(json.data(), json.size());
    if (document.HasParseError()) {
        // The offset, not the text around it: that text may be a key.
        return std::unexpected(fmt::format("not valid JSON ({} at offset {})",
                                           rapidjson::GetParseError_En(document.GetParseError()),
                                           document.GetErrorOffset()));
    }
    if (!document.IsObject()) {
        return std::unexpected(R"(expected a JSON object {"<key>": "<user_id>", ...})");
    }
    if (document.MemberCount() == 0) {
        return std::unexpected(
            "no keys: every order would be refused (unset ORDERFLOW_API_KEYS "
            "to accept orders without a key)");
    }
    ApiKeys keys;
    size_t position = 0;
    for (const auto& member : document.GetObject()) {
        ++position;
        const std::string_view key(member.name.GetString(), member.name.GetStringLength());
        if (key.size() < kMinKeyLength || key.size() > kMaxKeyLength) {
            return std::unexpected(fmt::format("entry {}: a key must have {} to {} characters",
                                               position, kMinKeyLength, kMaxKeyLength));
        }
        if (!IsB64Token(key)) {
            return std::unexpected(fmt::format(
                "entry {}: a key may contain only letters, digits, -._~+/ and trailing '=' "
                "(it is sent as Authorization: Bearer <key>)",
                position));
        }
        if (!member.value.IsString() || member.value.GetStringLength() == 0 ||
            member.value.GetStringLength() > kMaxUserLength) {
            return std::unexpected(
                fmt::format("entry {}: the user id must be a string of 1 to {} characters",
                            position, kMaxUserLength));
        }
        const auto digest = Sha256(key);
        for (const auto& entry : keys.entries_) {
            if (DigestsEqual(entry.digest, digest)) {
                return std::unexpected(
                    fmt::format("entry {}: the same key is listed twice", position));
            }
        }
        keys.entries_.push_back(
            Entry{digest, std::string(member.value.GetString(), member.value.GetStringLength())});
    }
    return keys;
}

std::optional<std::string> ApiKeys::UserOf(std::string_view key) const {
    const auto digest = Sha256(key);
    const Entry* found = nullptr;
    for (const auto& entry : entries_) {  // no early exit: every entry costs the same
        if (DigestsEqual(entry.digest, digest)) found = &entry;
    }
    if (found == nullptr) return std::nullopt;
    return found->user_id;
}

}  // namespace orderflow::auth
