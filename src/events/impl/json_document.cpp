// Non-recursive, depth-limited JSON parsing of untrusted bodies.
#include "events/impl/json_document.hpp"

#include <fmt/format.h>

namespace orderflow::events::impl {
namespace {

// Iterative parsing keeps the parser itself off the call stack; validating UTF-8 means every
// string we hand on (to SQLite, logs, HTTP answers) is well-formed.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
// A body of ASCII bytes alone is valid UTF-8 as it stands, and RapidJSON's per-character
// validation (a tenth of what a decode costs) would prove nothing more: such bodies, nearly
// all of them, are parsed without it. The parse is otherwise the same (control characters,
// escapes and surrogate pairs are checked either way), so results and errors are too.
constexpr unsigned kAsciiParseFlags = rapidjson::kParseIterativeFlag;

// Forwards SAX events to the document being built, refusing to nest deeper than kMaxJsonDepth.
class DepthLimiter final {
  public:
    explicit DepthLimiter(rapidjson::Document& document) : document_(document) {}

    bool Exceeded() const { return exceeded_; }

    bool Null() { return document_.Null(); }
    bool Bool(bool b) { return document_.Bool(b); }
    bool Int(int i) { return document_.Int(i); }
    bool Uint(unsigned u) { return document_.Uint(u); }
    bool Int64(int64_t i) { return document_.Int64(i); }
    bool Uint64(uint64_t u) { return document_.Uint64(u); }
    bool Double(double d) { return document_.Double(d); }
    bool RawNumber(const char* str, rapidjson::SizeType length, bool copy) {
        return document_.RawNumber(str, length, copy);
    }
    bool String(const char* str, rapidjson::SizeType length, bool copy) {
        return document_.String(str, length, copy);
    }
    bool Key(const char* str, rapidjson::SizeType length, bool copy) {
        return document_.Key(str, length, copy);
    }
    bool StartObject() { return Enter() && document_.StartObject(); }
    bool EndObject(rapidjson::SizeType members) {
        --depth_;
        return document_.EndObject(members);
    }
    bool StartArray() { return Enter() && document_.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) {
        --depth_;
        return document_.EndArray(elements);
    }

  private:
    bool Enter() {
        if (++depth_ > kMaxJsonDepth) {
            exceeded_ = true;
            return false;
        }
        return true;
    }

    rapidjson::Document& document_;
    std::size_t depth_ = 0;
    bool exceeded_ = false;
};

DecodeError NotJson(std::string message) {
    return DecodeError{DecodeError::Kind::kNotJson, std::move(message)};
}

}  // namespace

bool IsAscii(std::string_view text) {
    unsigned char any = 0;
    for (const char c : text) any |= static_cast<unsigned char>(c);  // vectorised by -O2
    return (any & 0x80U) == 0;
}

std::expected<void, DecodeError> ParseJson(std::string_view body, rapidjson::Document& out) {
    rapidjson::MemoryStream stream(body.data(), body.size());
    rapidjson::Reader reader;
    bool exceeded = false;
    // Populate() moves the finished root out of the document's own SAX stack; our generator
    // only has to drive the reader through the depth limiter.
    const bool ascii = IsAscii(body);
    auto generator = [&](rapidjson::Document& document) {
        DepthLimiter limiter(document);
        const bool ok = ascii ? !reader.Parse<kAsciiParseFlags>(stream, limiter).IsError()
                              : !reader.Parse<kParseFlags>(stream, limiter).IsError();
        exceeded = limiter.Exceeded();
        return ok;
    };
    out.Populate(generator);
    if (reader.HasParseError()) {
        if (exceeded) {
            return std::unexpected(
                NotJson(fmt::format("Invalid JSON at offset {}: nested deeper "
                                    "than {} levels.",
                                    reader.GetErrorOffset(), kMaxJsonDepth)));
        }
        return std::unexpected(
            NotJson(fmt::format("Invalid JSON at offset {}: {}", reader.GetErrorOffset(),
                                rapidjson::GetParseError_En(reader.GetParseErrorCode()))));
    }
    // MemoryStream reads a NUL byte as end of input, so "{}\0junk" would otherwise pass.
    if (stream.Tell() != body.size()) {
        return std::unexpected(NotJson(
            fmt::format("Invalid JSON at offset {}: NUL byte after the document.", stream.Tell())));
    }
    return {};
}

std::string Printable(std::string_view text, std::size_t max_bytes) {
    bool cut = false;
    if (text.size() > max_bytes) {
        std::size_t end = max_bytes;
        // Never split a UTF-8 sequence: back up over continuation bytes.
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        text = text.substr(0, end);
        cut = true;
    }
    std::string out;
    out.reserve(text.size() + 3);
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) {
            out += fmt::format("\\x{:02x}", byte);
        } else {
            out += c;
        }
    }
    if (cut) out += "...";
    return out;
}

}  // namespace orderflow::events::impl
