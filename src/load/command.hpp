// `orderflowctl load`: the command-line face of the load generator. orderflowctl's CLI
// (src/ctl/cli.cpp) adds it with one line: orderflow::load::AddLoadCommand(app, command);
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace orderflow::load {

// The flags as given, before parsing and validation.
struct LoadCommandArgs {
    std::string url;
    double rate = 0;           // > 0: open loop
    uint32_t concurrency = 0;  // 0: the default (16) unless --rate
    std::string duration;      // "30", "30s", "500ms", "2m"
    uint64_t requests = 0;     // stop after this many (measured) requests
    std::string warmup = "0";
    std::string method = "POST";
    std::string body;  // empty: the default order body for POST/PUT/PATCH
    std::string body_file;
    std::vector<std::string> headers;  // "Name: value"
    uint32_t connections = 256;
    int64_t timeout_ms = 30000;
    uint32_t threads = 1;
    uint64_t seq_start = 1;
    bool json = false;
    std::string csv;        // per-second rows
    std::string histogram;  // percentile,latency_ms rows
};

// Runs the command: 0 when the run happened (errors of the target are results, not
// failures), 1 when nothing was answered at all or an output file could not be written,
// 2 for usage errors. The summary goes to `out`, diagnostics to `err`. SIGINT/SIGTERM end
// the run early and still print what was measured.
int RunLoadCommand(const LoadCommandArgs& args, std::ostream& out, std::ostream& err);

// Adds the `load` subcommand to `app`. When it is selected, parsing sets `command` to the
// run (RunLoadCommand on stdout/stderr), which the caller invokes after app.parse() and
// whose result is the exit status.
CLI::App* AddLoadCommand(CLI::App& app, std::function<int()>& command);

}  // namespace orderflow::load
