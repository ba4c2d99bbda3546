// The one translation unit that compiles Asio and Beast (separate compilation): every other
// file includes only their headers, so the 2-core machine builds them once.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
