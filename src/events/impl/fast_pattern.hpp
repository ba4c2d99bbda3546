// Internal to orderflow_events: a matcher for the small subset of ECMAScript regular
// expressions our schemas use, so that checking a `pattern` costs 30-110 ns instead of
// std::regex's 350-500 ns (a UUID, a time, a sku; -O2). The schema stays the single source of
// truth: each pattern is compiled from the schema text, and a pattern outside the subset is left to
// std::regex (see rapidjson.hpp), so no pattern is ever weakened.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace orderflow::events::impl {

// Supported: literals, escaped punctuation (`\.`), bracket classes with ranges and `^`
// negation (`[A-Za-z0-9_.-]`, `[^"]`), groups with alternation (`(Z|[+-]..)`), the anchors
// `^` and `$` (no multiline: start and end of the subject), the quantifiers `?` `*` `+`
// `{n}` `{n,}` `{n,m}` on a single character or class, and `?` on a group. Anything else
// (`.`, `\d`, lookarounds, backreferences, lazy quantifiers, repeated groups) is refused.
// Subjects are bytes, as std::regex<char> sees them: an embedded NUL is an ordinary byte.
//
// Trivially destructible on purpose: RapidJSON releases a pattern by calling only the
// std::regex destructor (see rapidjson.hpp).
class FastPattern final {
  public:
    // nullopt when the pattern is outside the subset, or is not a valid regular expression.
    static std::optional<FastPattern> Compile(std::string_view pattern);

    // std::regex_search semantics: true if some substring matches.
    [[nodiscard]] bool Search(std::string_view subject) const;

    static constexpr std::size_t kMaxNodes = 96;

  private:
    static constexpr uint16_t kNone = 0xffff;
    static constexpr uint32_t kUnbounded = 0xffffffff;
    enum class Kind : uint8_t { kSet, kGroup, kAlternative, kBegin, kEnd };
    struct Node {
        Kind kind = Kind::kSet;
        uint16_t next = kNone;  // the following element of the sequence (alternative: the next one)
        uint16_t child = kNone;  // group: its first alternative; alternative: its first element
        uint32_t min = 1;
        uint32_t max = 1;
        std::array<uint64_t, 4> bits{};  // kSet: the bytes it accepts

        [[nodiscard]] bool Has(unsigned char c) const { return (bits[c >> 6] >> (c & 63)) & 1U; }
    };
    struct Continuation;
    class Parser;

    bool Match(uint16_t node, std::size_t pos, std::string_view subject,
               const Continuation* then) const;

    std::array<Node, kMaxNodes> nodes_{};
    uint16_t size_ = 0;
    uint16_t root_ = kNone;  // the top-level group
    bool anchored_ = false;  // every alternative of the top level starts with `^`
};

}  // namespace orderflow::events::impl
