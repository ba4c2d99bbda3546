// How to reach the broker, and how hard to try.
#pragma once

#include <chrono>
#include <string>

namespace orderflow::broker {

struct ConnectionOptions {
    std::string url = "amqp://guest:guest@127.0.0.1:5672/%2f";  // amqps:// for TLS
    std::string connection_name;                                // shown in the management UI
    std::chrono::seconds heartbeat{30};
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds reconnect_min{200};  // backoff with jitter between these
    std::chrono::milliseconds reconnect_max{5000};
    // amqps:// always verifies the broker's certificate and host name; against this CA
    // bundle (PEM) when set, else against the system trust store.
    std::string tls_ca_file;
};

}  // namespace orderflow::broker
