// Internal, included by session.cpp only: conversions between Beast messages and the plain
// Request/Response values handlers see. Kept apart so session.cpp stays about I/O.
#pragma once

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <string>

#include "http/server.hpp"

namespace orderflow::http::impl {

// Beast 1.74 uses boost::string_view.
inline std::string_view Std(boost::beast::string_view text) { return {text.data(), text.size()}; }

inline std::string LowerCase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Everything but the body, which the caller moves out of the message itself.
template <typename Fields>
Request ToRequest(const boost::beast::http::request_header<Fields>& message) {
    Request request;
    request.method = std::string(Std(message.method_string()));
    SetTarget(request, Std(message.target()));
    request.headers.reserve(16);
    for (const auto& field : message) {
        request.headers.emplace_back(LowerCase(Std(field.name_string())),
                                     std::string(Std(field.value())));
    }
    return request;
}

inline boost::beast::http::response<boost::beast::http::string_body> ToBeastResponse(
    Response response, unsigned version, bool keep_alive) {
    namespace bhttp = boost::beast::http;
    // A handler bug (a 1xx or out-of-range status) must not produce an invalid message.
    if (response.status < 200 || response.status > 599) {
        response = JsonError(500, "INTERNAL", "Invalid response status");
    }
    bhttp::response<bhttp::string_body> out;
    out.version(version);
    out.result(static_cast<unsigned>(response.status));
    out.set(bhttp::field::server, "orderflow");
    if (!response.content_type.empty()) out.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
        // We own framing; and a CR or LF in a header would split the response.
        const auto lower = LowerCase(name);
        if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection" ||
            lower == "server" || name.find_first_of("\r\n:") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
            continue;
        }
        if (lower == "content-type") {
            out.set(bhttp::field::content_type, value);
        } else {
            out.insert(name, value);
        }
    }
    // 204 and 304 carry no body by definition; Beast refuses to frame one.
    if (response.status == 204 || response.status == 304) response.body.clear();
    out.body() = std::move(response.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    return out;
}

}  // namespace orderflow::http::impl
