// The few RapidJSON writing helpers every console document uses: a string from a
// string_view, a member with a string value, and one whose empty value is written as null.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderflow::console::json {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void String(Writer& w, std::string_view text) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}
inline void Member(Writer& w, std::string_view key, std::string_view value) {
    String(w, key);
    String(w, value);
}
// "key": null when `value` is empty (unknown or not applicable), else the string.
inline void MemberOrNull(Writer& w, std::string_view key, std::string_view value) {
    String(w, key);
    if (value.empty()) {
        w.Null();
    } else {
        String(w, value);
    }
}
// "key": the number, or null when it is unknown.
inline void MemberOrNull(Writer& w, std::string_view key, std::optional<int64_t> value) {
    String(w, key);
    if (value) {
        w.Int64(*value);
    } else {
        w.Null();
    }
}
inline std::string Text(const rapidjson::StringBuffer& buffer) {
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace orderflow::console::json
