// Unit tests: the events codec survives hostile input (deep nesting, bad UTF-8, NUL bytes,
// random and mutated bodies) and concurrent use, answering with errors rather than crashing.
#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "events/codec.hpp"

namespace ev = orderflow::events;
using Kind = ev::DecodeError::Kind;

namespace {

const std::string kValidOrderPlaced =
    R"({"event_id":"0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e","event_type":"OrderPlaced",)"
    R"("schema_version":1,"occurred_at":"2026-11-21T12:00:00.000Z",)"
    R"("order_id":"7d0f8a2e-3b4c-4d5e-8f60-718293a4b5c6","user_id":"user1",)"
    R"("items":[{"sku":"burger","quantity":1},{"sku":"fries","quantity":20}]})";

const std::string kValidRequest = R"({"user_id":"user1","items":{"burger":1,"fries":2}})";

// Splices `extra` in as the last member of a JSON object body.
std::string WithExtraField(const std::string& body, const std::string& extra) {
    return body.substr(0, body.size() - 1) + "," + extra + "}";
}

std::string Nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// Every decoder on one body; none may crash, throw or accept what it should not.
void DecodeWithEverything(const std::string& body) {
    CHECK_NOTHROW(ev::DecodeOrderRequest(body));
    CHECK_NOTHROW(ev::DecodeEnvelope(body));
    CHECK_NOTHROW(ev::DecodeOrderPlaced(body));
    CHECK_NOTHROW(ev::DecodeInventoryEvent(body));
    CHECK_NOTHROW(ev::DecodeNotificationSent(body));
    CHECK_NOTHROW(ev::Validate(ev::EventType::kOrderPlaced, body));
}

}  // namespace

TEST_CASE("100000 unclosed brackets are rejected as not JSON without exhausting the stack") {
    const std::string body(100000, '[');
    const auto result = ev::DecodeOrderPlaced(body);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == Kind::kNotJson);
    DecodeWithEverything(body);
    DecodeWithEverything(std::string(100000, '{'));
    DecodeWithEverything(std::string(50000, '[') + std::string(50000, '{'));
}

TEST_CASE("well-formed but deeply nested JSON is refused past 64 levels, even in unknown fields") {
    const auto deep = ev::DecodeOrderRequest(Nested(100000));
    REQUIRE_FALSE(deep.has_value());
    CHECK(deep.error().kind == Kind::kNotJson);
    CHECK_THAT(deep.error().message, Catch::Contains("nested deeper than 64"));

    const auto hidden =
        ev::DecodeOrderPlaced(WithExtraField(kValidOrderPlaced, "\"x\":" + Nested(100000)));
    REQUIRE_FALSE(hidden.has_value());
    CHECK(hidden.error().kind == Kind::kNotJson);
    // The root object is level 1, so an unknown field may nest 63 more.
    CHECK(ev::DecodeOrderPlaced(WithExtraField(kValidOrderPlaced, "\"x\":" + Nested(63))));
    CHECK_FALSE(ev::DecodeOrderPlaced(WithExtraField(kValidOrderPlaced, "\"x\":" + Nested(64))));
}

TEST_CASE("invalid UTF-8 and lone surrogates are not JSON") {
    for (const std::string& bad :
         {std::string("\"\xC3\x28\""), std::string("\"\xED\xA0\x80\""), std::string("\"\xC0\xAF\""),
          std::string("\"\xFF\""), std::string(R"("\ud800")"),
          std::string("\"\xC3\xA9\\udc00\"")}) {
        const auto result = ev::DecodeOrderRequest(R"({"user_id":)" + bad + R"(,"items":{"a":1}})");
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == Kind::kNotJson);
    }
    // Bodies of ASCII alone take a parse without per-character UTF-8 checks: everything
    // else must still be refused there (control characters, bad escapes, lone surrogates).
    for (const std::string& bad :
         {std::string("\"a\x01"
                      "b\""),
          std::string("\"a\x1f"
                      "b\""),
          std::string(R"("\x")"), std::string(R"("\ud800x")"), std::string(R"("\u12")"),
          std::string(R"("\udc00")"), std::string(R"("a\uDFFFb")")}) {
        const auto result = ev::DecodeOrderRequest(R"({"user_id":)" + bad + R"(,"items":{"a":1}})");
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == Kind::kNotJson);
    }
    // A lone low surrogate is refused in a key too, with RapidJSON's message for a lone high one.
    const auto key = ev::DecodeOrderRequest(R"({"user_id":"u","items":{"\udc00":1}})");
    REQUIRE_FALSE(key.has_value());
    CHECK(key.error().kind == Kind::kNotJson);
    CHECK(key.error().message.find("surrogate pair in string is invalid") != std::string::npos);
    // The same request in ASCII and with a raw multi-byte character decodes alike.
    const auto ascii = ev::DecodeOrderRequest(R"({"user_id":"caf\u00e9","items":{"a":1}})");
    const auto raw = ev::DecodeOrderRequest("{\"user_id\":\"caf\xC3\xA9\",\"items\":{\"a\":1}}");
    REQUIRE(ascii.has_value());
    REQUIRE(raw.has_value());
    CHECK(ascii->user_id == raw->user_id);
    CHECK(raw->user_id == "caf\xC3\xA9");
    // A valid escaped pair is fine, and counts as one character.
    const auto emoji = ev::DecodeOrderRequest(R"({"user_id":"\ud83d\ude00","items":{"a":1}})");
    REQUIRE(emoji.has_value());
    CHECK(emoji->user_id == "\xF0\x9F\x98\x80");
}

TEST_CASE("NUL bytes: raw ones are not JSON, escaped ones are kept, not truncated") {
    using namespace std::string_literals;
    const auto raw_in_string =
        ev::DecodeOrderRequest("{\"user_id\":\"a\0b\",\"items\":{\"a\":1}}"s);
    REQUIRE_FALSE(raw_in_string.has_value());
    CHECK(raw_in_string.error().kind == Kind::kNotJson);

    const auto trailing = ev::DecodeOrderRequest(kValidRequest + "\0{\"junk\":1}"s);
    REQUIRE_FALSE(trailing.has_value());
    CHECK(trailing.error().kind == Kind::kNotJson);
    CHECK_THAT(trailing.error().message, Catch::Contains("NUL"));

    const auto escaped = ev::DecodeOrderRequest(R"({"user_id":"a\u0000b","items":{"a":1}})");
    REQUIRE(escaped.has_value());
    CHECK(escaped->user_id == "a\0b"s);
}

TEST_CASE("huge numbers are rejected, never wrapped into a valid quantity") {
    for (const std::string number : {"1e400", "-1e400"}) {
        const auto result =
            ev::DecodeOrderRequest(R"({"user_id":"u","items":{"a":)" + number + "}}");
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == Kind::kNotJson);
    }
    for (const std::string number : {"4294967297", "-4294967295", "9223372036854775808", "1e3"}) {
        INFO(number);
        const auto result =
            ev::DecodeOrderRequest(R"({"user_id":"u","items":{"a":)" + number + "}}");
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == Kind::kSchemaViolation);
    }
}

TEST_CASE("error messages escape control characters and stay short") {
    const std::string key = "evil\\n\\u0001" + std::string(5000, 'k');
    const auto result =
        ev::DecodeOrderRequest(R"({"user_id":"u","items":{"a":1},")" + key + "\":1}");
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == Kind::kSchemaViolation);
    CHECK_THAT(result.error().message, Catch::StartsWith("/evil\\x0a\\x01kkk"));
    CHECK(result.error().message.size() < 300);
    CHECK(result.error().message.find('\n') == std::string::npos);
}

TEST_CASE("random bytes never crash a decoder and are never accepted") {
    std::mt19937 random(20261121);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> length(0, 64);
    for (int i = 0; i < 3000; ++i) {
        std::string body(length(random), '\0');
        for (auto& c : body) c = static_cast<char>(byte(random));
        REQUIRE_FALSE(ev::DecodeOrderPlaced(body).has_value());
        REQUIRE_FALSE(ev::DecodeOrderRequest(body).has_value());
    }
}

TEST_CASE("whatever a mutated body decodes to re-encodes into a body that validates") {
    std::mt19937 random(42);
    const std::string alphabet =
        "{}[]\":,0123456789.-eE \\u00ff\x01\x80"
        "abcdefzZ";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    int accepted = 0;
    for (int i = 0; i < 4000; ++i) {
        std::string body = kValidOrderPlaced;
        std::uniform_int_distribution<std::size_t> at(0, body.size() - 1);
        for (int m = 0; m < 1 + i % 3; ++m) body[at(random)] = alphabet[pick(random)];
        const auto decoded = ev::DecodeOrderPlaced(body);
        if (!decoded) continue;
        ++accepted;
        INFO("mutated body: " << body);
        REQUIRE(ev::Validate(ev::EventType::kOrderPlaced, ev::Encode(*decoded)).has_value());
        REQUIRE(ev::DecodeOrderPlaced(ev::Encode(*decoded))->items == decoded->items);
    }
    CHECK(accepted >
          0);  // some mutations (inside ids, skus) stay valid: the property was exercised
}

TEST_CASE("concurrent decoding from several threads gives the same answers as one thread") {
    const std::vector<std::pair<std::string, bool>> cases{
        {kValidRequest, true},
        {R"({"user_id":"u","items":{"bad sku":1}})", false},
        {R"({"user_id":"u","items":{"good_sku":1,"x":1001}})", false},
        {R"({"user_id":"u","items":{"a.b-c_D9":7}})", true},
    };
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                for (const auto& [body, valid] : cases) {
                    if (ev::DecodeOrderRequest(body).has_value() != valid) ++wrong;
                }
                if (!ev::DecodeOrderPlaced(kValidOrderPlaced)) ++wrong;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(wrong == 0);
}
