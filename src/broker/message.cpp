// Helpers of the transport-neutral message types (no rabbitmq-c here).
#include "broker/message.hpp"

#include <charconv>

namespace orderflow::broker {

std::optional<int64_t> FieldValue::AsInt() const {
    if (const auto* number = std::get_if<int64_t>(&value)) return *number;
    if (const auto* text = std::get_if<std::string>(&value)) {
        // Headers set by other clients may carry numbers as text ("3").
        int64_t parsed = 0;
        const char* end = text->data() + text->size();
        const auto [ptr, ec] = std::from_chars(text->data(), end, parsed);
        if (ec == std::errc() && ptr == end && !text->empty()) return parsed;
    }
    return std::nullopt;
}

const std::string* Properties::Header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? nullptr : it->second.AsString();
}

std::optional<int64_t> Properties::IntHeader(const std::string& name) const {
    const auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return it->second.AsInt();
}

}  // namespace orderflow::broker
