// Unit tests: FastPattern, the schema validator's pattern matcher, agrees with std::regex on
// every pattern of schemas/ and on hand-picked and random subjects, and refuses what it does
// not implement (those patterns stay with std::regex).
#include <catch2/catch.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "events/impl/fast_pattern.hpp"

using orderflow::events::impl::FastPattern;

namespace {

bool StdSearch(const std::string& pattern, const std::string& subject) {
    const std::regex regex(pattern, std::regex_constants::ECMAScript);
    std::match_results<std::string::const_iterator> match;
    return std::regex_search(subject, match, regex);
}

const std::vector<std::string> kSchemaPatterns = {
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$)",
    "^[A-Za-z0-9_.-]{1,64}$",
};

const std::vector<std::string> kOtherPatterns = {
    "abc",
    "a|b|",
    "^a?b*c+$",
    "x{2,}y",
    "(ab|cd)?e$",
    "[^0-9]",
    "^[-a]+$",
    "[a-]",
    R"(\$\(\))",
    "^$",
    "",
    "a{0}b",
    "(a|ab)(c|bcd)?d",
    "^(a|)b",
    "[+-]?[0-9]{1,3}(\\.[0-9]+)?$",
};

std::vector<std::string> Subjects() {
    std::vector<std::string> subjects = {
        "",
        "0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e",
        "0B6F3C58-5C1E-4C7A-9D3E-1F2A3B4C5D6E",
        "0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6",
        "0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6ef",
        "0b6f3c58_5c1e-4c7a-9d3e-1f2a3b4c5d6e",
        " 0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e",
        "2026-11-21T12:00:00.000Z",
        "2026-11-21T12:00:00Z",
        "2026-11-21T12:00:00.Z",
        "2026-11-21T12:00:00.123456+01:00",
        "2026-11-21T12:00:00-0100",
        "2026-11-21 12:00:00Z",
        "2026-11-21T12:00:00.000Z\n",
        "burger",
        "fries_large.v2-x",
        "bur ger",
        "caf\xC3\xA9",
        std::string("burger\0!", 8),
        std::string("a\0", 2),
        std::string(64, 'a'),
        std::string(65, 'a'),
        "ab",
        "abcde",
        "acd",
        "abcdd",
        "xxy",
        "$()",
        "-a-",
        "+12.5",
        "12.",
        "b",
    };
    std::mt19937 rng(42);
    const std::string alphabet = "0123456789abcdefABZT:.-+_ $()xy\n";
    for (int i = 0; i < 2000; ++i) {
        std::string s(rng() % 40, ' ');
        for (auto& c : s) c = alphabet[rng() % alphabet.size()];
        subjects.push_back(std::move(s));
    }
    return subjects;
}

}  // namespace

TEST_CASE("FastPattern matches exactly as std::regex_search does", "[events]") {
    const auto subjects = Subjects();
    std::vector<std::string> patterns = kSchemaPatterns;
    patterns.insert(patterns.end(), kOtherPatterns.begin(), kOtherPatterns.end());
    for (const auto& pattern : patterns) {
        const auto fast = FastPattern::Compile(pattern);
        INFO("pattern " << pattern);
        REQUIRE(fast.has_value());
        for (const auto& subject : subjects) {
            INFO("subject " << subject);
            CHECK(fast->Search(subject) == StdSearch(pattern, subject));
        }
    }
}

TEST_CASE("FastPattern matches valid schema values and rejects near misses", "[events]") {
    const auto sku = FastPattern::Compile("^[A-Za-z0-9_.-]{1,64}$");
    REQUIRE(sku);
    CHECK(sku->Search("burger"));
    CHECK_FALSE(sku->Search(""));
    CHECK_FALSE(sku->Search(std::string("burger\0!", 8)));  // an embedded NUL is a byte
    CHECK_FALSE(sku->Search(std::string(65, 'a')));
    CHECK(sku->Search(std::string(64, 'a')));
}

TEST_CASE("FastPattern refuses what it does not implement, leaving it to std::regex", "[events]") {
    for (const std::string pattern :
         {".",   "\\d", "\\w+",        "(?:a)",  "(?=a)",   "(a)+",    "(a){2}",
          "a+?", "a**", "[[:alpha:]]", "[]a]",   "[a-c-e]", "[z-a]",   "\\1",
          "(a",  "a)",  "[abc",        "a{2,1}", "a{",      "\xC3\xA9"}) {
        INFO("pattern " << pattern);
        CHECK_FALSE(FastPattern::Compile(pattern).has_value());
    }
}

TEST_CASE("FastPattern handles long subjects without deep recursion", "[events]") {
    const auto time = FastPattern::Compile(kSchemaPatterns[1]);
    REQUIRE(time);
    std::string long_fraction = "2026-11-21T12:00:00." + std::string(1 << 20, '7');
    CHECK_FALSE(time->Search(long_fraction));
    CHECK(time->Search(long_fraction + "Z"));
}
