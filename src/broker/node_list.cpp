// Node lists and the failover ring; see node_list.hpp.
#include "broker/node_list.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>

#include "broker/impl/connection.hpp"

namespace orderflow::broker {
namespace {

std::string_view Trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::vector<std::string_view> Split(std::string_view urls) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto comma = urls.find(',');
        parts.push_back(Trim(urls.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        urls.remove_prefix(comma + 1);
    }
    return parts;
}

uint64_t ProcessSeed() {
    if (const char* text = std::getenv("ORDERFLOW_AMQP_SHUFFLE_SEED"); text && *text) {
        return std::strtoull(text, nullptr, 10);
    }
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

std::expected<std::vector<std::string>, std::string> ParseNodeUrls(std::string_view urls) {
    std::vector<std::string> out;
    for (const auto part : Split(urls)) {
        if (part.empty()) {
            return std::unexpected(
                fmt::format("bad broker URL list '{}': an empty entry", RedactNodeUrls(urls)));
        }
        std::string url(part);
        if (!url.starts_with("amqp://") && !url.starts_with("amqps://")) {
            return std::unexpected(fmt::format("bad broker URL '{}': not amqp:// or amqps://",
                                               impl::RedactedUrl(url)));
        }
        if (auto parsed = impl::ParseUrl(url); !parsed) return std::unexpected(parsed.error());
        out.push_back(std::move(url));
    }
    return out;
}

std::string RedactNodeUrls(std::string_view urls) {
    std::string out;
    for (const auto part : Split(urls)) {
        if (!out.empty()) out += ',';
        out += impl::RedactedUrl(std::string(part));
    }
    return out;
}

NodeRing::NodeRing(std::vector<std::string> nodes, uint64_t seed) : nodes_(std::move(nodes)) {
    // Fisher-Yates with our own draws: std::shuffle's use of the engine is unspecified, and
    // the order must be the same for a seed on every standard library.
    std::mt19937_64 rng(seed);
    for (size_t i = nodes_.size(); i > 1; --i) {
        const size_t j = static_cast<size_t>(rng() % i);
        std::swap(nodes_[i - 1], nodes_[j]);
    }
}

std::vector<size_t> NodeRing::Candidates() const {
    std::lock_guard lock(mutex_);
    std::vector<size_t> out;
    out.reserve(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) out.push_back((current_ + i) % nodes_.size());
    return out;
}

void NodeRing::Connected(size_t index) {
    std::lock_guard lock(mutex_);
    if (index < nodes_.size()) current_ = index;
}

void NodeRing::Lost(size_t index) {
    std::lock_guard lock(mutex_);
    if (index == current_ && !nodes_.empty()) current_ = (current_ + 1) % nodes_.size();
}

size_t NodeRing::Current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

std::shared_ptr<NodeRing> RingFor(const std::string& urls) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<NodeRing>> rings;
    static const uint64_t seed = ProcessSeed();
    std::lock_guard lock(mutex);
    auto& ring = rings[urls];
    if (!ring) {
        auto nodes = ParseNodeUrls(urls);
        ring = std::make_shared<NodeRing>(
            nodes ? std::move(*nodes) : std::vector<std::string>{urls}, seed);
    }
    return ring;
}

}  // namespace orderflow::broker
