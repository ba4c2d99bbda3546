// orderflowctl's command line: CLI11 subcommands mapped onto the commands of commands.hpp.
#pragma once

namespace orderflow::ctl {

// The whole program; returns the exit status (0 ok, 1 runtime failure, 2 usage error).
int Run(int argc, char** argv);

}  // namespace orderflow::ctl
