// The API keys of ORDERFLOW_API_KEYS (SPEC section 11): a JSON file {"<key>": "<user_id>"}
// read once at start. Only SHA-256 digests of the keys are kept in memory, and a lookup
// compares the digest of the presented key with every stored one in constant time, so the
// time of an answer says nothing about how close a guess was. Keys never appear in an error
// message (entries are named by their position in the file).
#pragma once

#include <cstddef>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/secret.hpp"

namespace orderflow::auth {

class ApiKeys final {
  public:
    // Shortest key accepted: a shorter one can be guessed.
    static constexpr size_t kMinKeyLength = 16;
    static constexpr size_t kMaxKeyLength = 512;
    static constexpr size_t kMaxUserLength = 128;  // SPEC section 4's user_id limit

    // Reads and checks the file; the error says what is wrong and where, never a key.
    static std::expected<ApiKeys, std::string> Load(const std::filesystem::path& file);
    static std::expected<ApiKeys, std::string> Parse(std::string_view json);

    // The user id of `key`, or nullopt for an unknown key. Every stored key is compared,
    // whichever matches.
    std::optional<std::string> UserOf(std::string_view key) const;
    size_t Size() const { return entries_.size(); }

  private:
    struct Entry {
        Digest digest;
        std::string user_id;
    };
    std::vector<Entry> entries_;
};

}  // namespace orderflow::auth
