// Serializes the HTTP/1.1 request of a load run; see request_template.hpp.
#include "load/request_template.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace orderflow::load {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

bool HasHeader(const LoadOptions& options, std::string_view name) {
    return std::any_of(options.headers.begin(), options.headers.end(),
                       [name](const auto& header) { return EqualsIgnoreCase(header.first, name); });
}

std::string HostHeader(const Url& url) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != 80) host += ":" + std::to_string(url.port);
    return host;
}

}  // namespace

RequestTemplate::Part RequestTemplate::Split(std::string_view text) {
    Part part;
    while (true) {
        const size_t at = text.find(kSeqPlaceholder);
        part.literals.emplace_back(text.substr(0, at));
        if (at == std::string_view::npos) break;
        text.remove_prefix(at + kSeqPlaceholder.size());
    }
    return part;
}

RequestTemplate::RequestTemplate(const LoadOptions& options) {
    const bool has_body = !options.body.empty() || options.method == "POST" ||
                          options.method == "PUT" || options.method == "PATCH";
    std::string head = options.method + " " + options.url.target + " HTTP/1.1\r\n";
    if (!HasHeader(options, "host")) head += "Host: " + HostHeader(options.url) + "\r\n";
    if (!HasHeader(options, "user-agent")) head += "User-Agent: orderflowctl-load\r\n";
    if (has_body && !HasHeader(options, "content-type")) {
        head += "Content-Type: application/json\r\n";
    }
    for (const auto& [name, value] : options.headers) {
        if (EqualsIgnoreCase(name, "content-length")) continue;  // always computed here
        head += name + ": " + value + "\r\n";
    }
    send_length_ = has_body;
    if (send_length_) head += "Content-Length: ";
    head_ = Split(head);
    body_ = Split(options.body);
    for (const auto& literal : body_.literals) body_literal_size_ += literal.size();
    placeholders_ = head_.literals.size() - 1 + body_.literals.size() - 1;
    if (placeholders_ == 0) Render(0, fixed_);
}

void RequestTemplate::AppendPart(const Part& part, std::string_view seq, std::string& out) {
    for (size_t i = 0; i < part.literals.size(); ++i) {
        if (i > 0) out += seq;
        out += part.literals[i];
    }
}

void RequestTemplate::Render(uint64_t seq, std::string& out) const {
    char digits[24];
    const auto seq_end = std::to_chars(digits, digits + sizeof(digits), seq).ptr;
    const std::string_view seq_text(digits, static_cast<size_t>(seq_end - digits));
    out.clear();
    AppendPart(head_, seq_text, out);
    if (send_length_) {
        const size_t length = body_literal_size_ + (body_.literals.size() - 1) * seq_text.size();
        char length_text[24];
        const auto length_end = std::to_chars(length_text, length_text + 24, length).ptr;
        out.append(length_text, length_end);
        out += "\r\n";
    }
    out += "\r\n";
    AppendPart(body_, seq_text, out);
}

}  // namespace orderflow::load
