// An HTTP response parser that keeps the status and throws everything else away: no
// header map and no body buffer, so reading an answer allocates nothing. Beast's
// basic_parser still tracks Content-Length, chunking and keep-alive for us.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>

namespace orderflow::load::impl {

class ResponseSink final : public boost::beast::http::basic_parser<false> {
  public:
    int Status() const { return status_; }

  private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;
    using field = boost::beast::http::field;
    using verb = boost::beast::http::verb;

    void on_request_impl(verb, string_view, string_view, int, error_code&) override {}
    void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
    void on_field_impl(field, string_view, string_view, error_code&) override {}
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
        return body.size();
    }
    void on_finish_impl(error_code&) override {}

    int status_ = 0;
};

}  // namespace orderflow::load::impl
