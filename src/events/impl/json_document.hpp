// Internal to orderflow_events: parses untrusted JSON into a RapidJSON document without
// recursion, with UTF-8 validation and a nesting limit, reporting errors as DecodeError values.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

#include "events/codec.hpp"
#include "events/impl/rapidjson.hpp"

namespace orderflow::events::impl {

// Our schemas nest three levels deep; the slack is for unknown fields of future versions.
// The limit exists because RapidJSON walks a document recursively (Accept, validation), so an
// unbounded depth would let a small body exhaust the stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses `body` into `out`; on failure the error is kNotJson with RapidJSON's reason and the
// byte offset, e.g. "Invalid JSON at offset 34: Invalid value."
std::expected<void, DecodeError> ParseJson(std::string_view body, rapidjson::Document& out);

// True when every byte is below 0x80: such text is UTF-8 as it stands.
bool IsAscii(std::string_view text);

// Text taken from untrusted input, made safe to embed in an error message or a log line:
// control bytes are escaped and the result is cut (on a UTF-8 boundary) at `max_bytes`.
std::string Printable(std::string_view text, std::size_t max_bytes = 128);

}  // namespace orderflow::events::impl
