// Prometheus metrics; see metrics.hpp. Values are atomics so the hot path (Inc, Observe)
// never locks; the registry mutex only guards the family maps and rendering.
#include "telemetry/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace orderflow::telemetry {
namespace {

enum class Kind { kCounter, kGauge, kHistogram };

std::string_view KindName(Kind kind) {
    switch (kind) {
        case Kind::kCounter:
            return "counter";
        case Kind::kGauge:
            return "gauge";
        case Kind::kHistogram:
            return "histogram";
    }
    return "untyped";
}

// Prometheus sample values: Go's ParseFloat spellings for the non-finite ones.
std::string FormatValue(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

// HELP text escapes only backslash and newline; label values also escape the quote.
void AppendEscaped(std::string& out, std::string_view text, bool quote) {
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (quote && c == '"') {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

// `{a="1",b="2"}` plus an optional extra label (the histogram's `le`), or "" if empty.
std::string FormatLabels(const Labels& labels, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
    if (labels.empty() && extra_name.empty()) return {};
    std::string out = "{";
    bool first = true;
    auto add = [&](std::string_view name, std::string_view value) {
        if (!first) out += ',';
        first = false;
        out += name;
        out += "=\"";
        AppendEscaped(out, value, true);
        out += '"';
    };
    for (const auto& [name, value] : labels) add(name, value);
    if (!extra_name.empty()) add(extra_name, extra_value);
    out += '}';
    return out;
}

}  // namespace

// ---- Counter / Gauge -------------------------------------------------------------------

void Counter::Inc(double v) {
    // A counter only goes up; a negative increment is a caller bug we refuse to record.
    if (!(v >= 0.0)) return;
    value_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double v) { value_.store(v, std::memory_order_relaxed); }
void Gauge::Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

// ---- Histogram -------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
    // +Inf is implicit (the last bucket), NaN bounds make no sense; keep the rest sorted.
    std::erase_if(bounds_, [](double b) { return std::isnan(b) || std::isinf(b); });
    std::sort(bounds_.begin(), bounds_.end());
    bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
    buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
    // `le` is inclusive: v lands in the first bucket whose bound is >= v (NaN goes to +Inf).
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
    const auto index = static_cast<size_t>(it - bounds_.begin());
    buckets_[index].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
    std::vector<uint64_t> out(bounds_.size() + 1);
    uint64_t running = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        out[i] = running;
    }
    return out;
}

double Histogram::Sum() const { return sum_.load(std::memory_order_relaxed); }
uint64_t Histogram::Count() const { return count_.load(std::memory_order_relaxed); }

std::vector<double> LatencyBuckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  30.0};
}

// ---- Registry --------------------------------------------------------------------------

struct Registry::Family {
    Kind kind;
    std::string help;
    // Series ordered by their labels so that the output is stable between scrapes.
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

namespace {

template <typename Family>
Family& FamilyOf(std::map<std::string, std::unique_ptr<Family>>& families, const std::string& name,
                 const std::string& help, Kind kind) {
    auto it = families.find(name);
    if (it == families.end()) {
        it = families.emplace(name, std::make_unique<Family>(Family{kind, help, {}, {}, {}})).first;
    } else if (it->second->kind != kind) {
        // One name, two types would render an invalid exposition: a programming error.
        throw std::logic_error(fmt::format("metric {} registered as {} and {}", name,
                                           KindName(it->second->kind), KindName(kind)));
    }
    return *it->second;
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = FamilyOf(families_, name, help, Kind::kCounter).counters[labels];
    if (!series) series = std::make_unique<Counter>();
    return *series;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard lock(mutex_);
    auto& series = FamilyOf(families_, name, help, Kind::kGauge).gauges[labels];
    if (!series) series = std::make_unique<Gauge>();
    return *series;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const Labels& labels, std::vector<double> bounds) {
    std::lock_guard lock(mutex_);
    auto& series = FamilyOf(families_, name, help, Kind::kHistogram).histograms[labels];
    if (!series) series = std::make_unique<Histogram>(std::move(bounds));
    return *series;
}

void Registry::OnCollect(std::function<void()> callback) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(callback));
}

std::string Registry::Render() {
    // Collectors usually call GetGauge, which locks: run them outside the lock.
    std::vector<std::function<void()>> collectors;
    {
        std::lock_guard lock(mutex_);
        collectors = collectors_;
    }
    for (auto& collect : collectors) collect();

    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [name, family] : families_) {  // std::map: families in name order
        out += "# HELP ";
        out += name;
        out += ' ';
        AppendEscaped(out, family->help, false);
        out += fmt::format("\n# TYPE {} {}\n", name, KindName(family->kind));
        for (const auto& [labels, counter] : family->counters) {
            out +=
                fmt::format("{}{} {}\n", name, FormatLabels(labels), FormatValue(counter->Value()));
        }
        for (const auto& [labels, gauge] : family->gauges) {
            out +=
                fmt::format("{}{} {}\n", name, FormatLabels(labels), FormatValue(gauge->Value()));
        }
        for (const auto& [labels, histogram] : family->histograms) {
            const auto counts = histogram->CumulativeCounts();
            const auto& bounds = histogram->Bounds();
            for (size_t i = 0; i < counts.size(); ++i) {
                const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
                out += fmt::format("{}_bucket{} {}\n", name, FormatLabels(labels, "le", le),
                                   counts[i]);
            }
            // _count is taken from the +Inf bucket so that one scrape is self-consistent
            // even while other threads observe.
            out += fmt::format("{}_sum{} {}\n", name, FormatLabels(labels),
                               FormatValue(histogram->Sum()));
            out += fmt::format("{}_count{} {}\n", name, FormatLabels(labels), counts.back());
        }
    }
    return out;
}

}  // namespace orderflow::telemetry
