// The forms a load result is written in: a human summary, one JSON object (what
// scripts/bench.sh reads), per-second CSV rows and a percentile table for plots.
#pragma once

#include <string>

#include "load/options.hpp"
#include "load/result.hpp"

namespace orderflow::load {

// Several lines: target and mode, duration, requests, throughput, successes, errors by
// status and kind, min/avg/p50/p90/p95/p99/max latency in ms.
std::string FormatSummary(const LoadOptions& options, const LoadResult& result);
// The same figures as one JSON object on one line (keys documented in the README of
// bench/, stable for scripts): see the implementation for the list.
std::string FormatJson(const LoadOptions& options, const LoadResult& result);
// second,requests,successes,errors,p50_ms,p99_ms: one row per second since the end of the
// warm-up, by completion time (empty seconds included, with 0 latencies).
std::string FormatSecondsCsv(const LoadResult& result);
// percentile,latency_ms: 0..99 by 1, then 99.5, 99.9, 99.95, 99.99 and 100.
std::string FormatPercentilesCsv(const LoadResult& result);

}  // namespace orderflow::load
