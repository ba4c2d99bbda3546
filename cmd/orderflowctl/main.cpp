// orderflowctl: the operator CLI of SPEC section 7; all of it lives in src/ctl.
#include "ctl/cli.hpp"

int main(int argc, char** argv) { return orderflow::ctl::Run(argc, argv); }
