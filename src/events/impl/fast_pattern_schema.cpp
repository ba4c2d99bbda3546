// The two specialised members of RapidJSON's Schema declared in rapidjson.hpp: `pattern` and
// `patternProperties` keywords of our schemas match with a FastPattern when the pattern is in
// its subset, and with std::regex otherwise.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <optional>
#include <regex>
#include <string_view>
#include <type_traits>

#include "events/impl/fast_pattern.hpp"
#include "events/impl/rapidjson.hpp"

namespace orderflow::events::impl {
namespace {

// RapidJSON stores a pattern as a std::regex* and releases it by calling ~basic_regex() and
// then freeing the memory; the extra member is trivially destructible, so that release is
// complete. The std::regex is always compiled, so a pattern std::regex rejects is still
// ignored exactly as before (RapidJSON's rule), and it serves the patterns outside the subset.
struct PatternHolder final : std::basic_regex<char> {
    using std::basic_regex<char>::basic_regex;
    std::optional<FastPattern> fast;
};
static_assert(std::is_trivially_destructible_v<std::optional<FastPattern>>);
static_assert(alignof(PatternHolder) <= alignof(std::max_align_t));  // malloc'd by CrtAllocator

}  // namespace
}  // namespace orderflow::events::impl

template <>
template <>
std::basic_regex<char>* rapidjson::internal::Schema<orderflow::events::impl::SchemaDocument>::
    CreatePattern<rapidjson::Value>(const rapidjson::Value& value) {
    using orderflow::events::impl::FastPattern;
    using orderflow::events::impl::PatternHolder;
    if (!value.IsString()) return nullptr;
    const std::string_view text(value.GetString(), value.GetStringLength());
    void* memory = allocator_->Malloc(sizeof(PatternHolder));
    PatternHolder* holder = nullptr;
    try {
        holder =
            new (memory) PatternHolder(text.data(), text.size(), std::regex_constants::ECMAScript);
    } catch (const std::regex_error&) {
        AllocatorType::Free(memory);
        return nullptr;
    }
    holder->fast = FastPattern::Compile(text);
    std::basic_regex<char>* base = holder;
    // RapidJSON frees the base pointer: it must be the allocation itself (it is, for a single
    // non-virtual base, on every ABI we build for).
    if (static_cast<void*>(base) != memory) std::abort();
    return base;
}

template <>
bool rapidjson::internal::Schema<orderflow::events::impl::SchemaDocument>::IsPatternMatch(
    const std::basic_regex<char>* pattern, const char* str, rapidjson::SizeType length) {
    const auto* holder = static_cast<const orderflow::events::impl::PatternHolder*>(pattern);
    if (holder->fast) return holder->fast->Search({str, length});
    std::match_results<const char*> match;
    return std::regex_search(str, str + length, match, *pattern);
}
