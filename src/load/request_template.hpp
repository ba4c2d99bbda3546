// A request serialized once, before the run: without {{seq}} placeholders every request is
// the same bytes, shared by all connections; with them, rendering is a few appends into a
// buffer the connection reuses, so the per-request cost stays tiny and allocation-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "load/options.hpp"

namespace orderflow::load {

class RequestTemplate final {
  public:
    explicit RequestTemplate(const LoadOptions& options);

    bool HasPlaceholders() const { return placeholders_ > 0; }
    // The whole request when it has no placeholders.
    const std::string& Fixed() const { return fixed_; }
    // The request for sequence number `seq`, written into `out` (cleared first; its
    // capacity is kept, so a reused buffer stops allocating after the first requests).
    void Render(uint64_t seq, std::string& out) const;

  private:
    // Literal text and placeholders alternate: a placeholder sits after every literal but
    // the last one of each part.
    struct Part {
        std::vector<std::string> literals;
    };
    static Part Split(std::string_view text);
    static void AppendPart(const Part& part, std::string_view seq, std::string& out);

    Part head_;  // request line and headers up to the Content-Length value
    Part body_;
    bool send_length_ = false;
    size_t body_literal_size_ = 0;
    size_t placeholders_ = 0;
    std::string fixed_;
};

}  // namespace orderflow::load
