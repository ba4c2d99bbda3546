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

// True if `text` holds a UTF-16 surrogate encoded as UTF-8 (ED A0..BF): RapidJSON refuses a
// lone high surrogate escape (\ud800) but turns a lone low one (\udc00) into those bytes, which
// are not UTF-8. A valid escaped pair becomes one four-byte sequence, never these.
bool HasEncodedSurrogate(const char* text, rapidjson::SizeType length) {
    for (rapidjson::SizeType i = 0; i + 1 < length; ++i) {
        if (static_cast<unsigned char>(text[i]) == 0xED &&
            static_cast<unsigned char>(text[i + 1]) >= 0xA0) {
            return true;
        }
    }
    return false;
}

// Forwards SAX events to the document being built, refusing to nest deeper than kMaxJsonDepth,
// and, when the body has \u escapes, strings that decoded to a lone surrogate.
class DepthLimiter final {
  public:
    DepthLimiter(rapidjson::Document& document, bool has_escapes)
        : document_(document), has_escapes_(has_escapes) {}

    bool Exceeded() const { return exceeded_; }
    bool LoneSurrogate() const { return lone_surrogate_; }

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
        return Accept(str, length) && document_.String(str, length, copy);
    }
    bool Key(const char* str, rapidjson::SizeType length, bool copy) {
        return Accept(str, length) && document_.Key(str, length, copy);
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
    bool Accept(const char* str, rapidjson::SizeType length) {
        if (has_escapes_ && HasEncodedSurrogate(str, length)) {
            lone_surrogate_ = true;
            return false;
        }
        return true;
    }
    bool Enter() {
        if (++depth_ > kMaxJsonDepth) {
            exceeded_ = true;
            return false;
        }
        return true;
    }

    rapidjson::Document& document_;
    const bool has_escapes_;
    std::size_t depth_ = 0;
    bool exceeded_ = false;
    bool lone_surrogate_ = false;
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
    bool lone_surrogate = false;
    // Populate() moves the finished root out of the document's own SAX stack; our generator
    // only has to drive the reader through the depth limiter.
    const bool ascii = IsAscii(body);
    const bool has_escapes = body.find("\\u") != std::string_view::npos;
    auto generator = [&](rapidjson::Document& document) {
        DepthLimiter limiter(document, has_escapes);
        const bool ok = ascii ? !reader.Parse<kAsciiParseFlags>(stream, limiter).IsError()
                              : !reader.Parse<kParseFlags>(stream, limiter).IsError();
        exceeded = limiter.Exceeded();
        lone_surrogate = limiter.LoneSurrogate();
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
        // A lone surrogate stopped the parse from our handler: RapidJSON's word for it.
        const auto code = lone_surrogate ? rapidjson::kParseErrorStringUnicodeSurrogateInvalid
                                         : reader.GetParseErrorCode();
        return std::unexpected(
            NotJson(fmt::format("Invalid JSON at offset {}: {}", reader.GetErrorOffset(),
                                rapidjson::GetParseError_En(code))));
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
