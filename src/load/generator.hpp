// The load core: runs a load described by LoadOptions against a live HTTP server and
// returns what it measured. Used by `orderflowctl load` and by tests directly.
#pragma once

#include <atomic>
#include <expected>
#include <string>

#include "load/options.hpp"
#include "load/result.hpp"

namespace orderflow::load {

// Blocks for the run (warm-up + duration, plus up to --timeout for answers still out).
// `stop`, when given, ends the run early once set (e.g. from a SIGINT handler); what
// was measured so far is returned. Fails only before the run: bad options, unknown host.
std::expected<LoadResult, std::string> RunLoad(const LoadOptions& options,
                                               const std::atomic<bool>* stop = nullptr);

}  // namespace orderflow::load
