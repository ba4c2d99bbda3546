// orderflow-analytics: order figures from the event stream; follows it, or reports a range.
#include <iostream>

#include "console/console.hpp"
#include "service/analytics.hpp"
#include "service/runtime.hpp"
#include "telemetry/log.hpp"

int main(int argc, char** argv) {
    using namespace orderflow;
    service::Config config;
    config.service = "analytics";
    CLI::App app{"orderflow analytics: reads the event stream from any offset"};
    service::AddCommonOptions(app, config, 8003);
    std::string from = "first";
    bool report = false;
    int idle_ms = 1500;
    app.add_option("--from", from, "first, last, next or an ISO-8601 time")
        ->envname("ORDERFLOW_ANALYTICS_FROM")
        ->capture_default_str();
    app.add_flag("--report", report,
                 "Read from --from to the current end, print /stats JSON, exit");
    app.add_option("--mgmt-url", config.mgmt_url,
                   "RabbitMQ management API, for the console (http://user:pass@host:port)")
        ->envname("ORDERFLOW_MGMT_URL");
    std::string admin_token;
    app.add_option("--admin-token", admin_token,
                   "Bearer token for the console's replay and purge (empty: read-only)")
        ->envname("ORDERFLOW_ADMIN_TOKEN");
    std::string console_amqp_url;
    app.add_option("--console-amqp-url", console_amqp_url,
                   "Broker URL of the console's dead-letter browsing, replay and purge, for a "
                   "broker user of their own (empty: --amqp-url)")
        ->envname("ORDERFLOW_CONSOLE_AMQP_URL")
        ->check(service::CheckAmqpUrls);
    app.add_option("--idle-ms", idle_ms, "Report mode: quiet time that marks the end of the stream")
        ->capture_default_str();
    if (auto parsed = service::ParseArgs(app, argc, argv, config); !parsed.proceed) {
        return parsed.exit_code;
    }
    if (const auto problem = console::CheckDeadLetterUrl(config.amqp_url, console_amqp_url);
        !problem.empty()) {
        std::cerr << "--console-amqp-url: " << problem << "\n";
        return 2;
    }
    const auto start = service::ParseStreamStart(from);
    if (!start) {
        std::cerr << "--from: expected first, last, next or an ISO-8601 time, got " << from << "\n";
        return 2;
    }
    if (report) {
        auto stats = service::ReportStats(config.Connection("report"), *start,
                                          std::chrono::milliseconds(idle_ms));
        if (!stats) {
            std::cerr << "analytics: " << stats.error() << "\n";
            return 1;
        }
        std::cout << stats->ToJson() << std::endl;
        return 0;
    }
    service::Runtime runtime(config);
    service::AnalyticsService analytics(runtime, *start);
    console::Console console(runtime, std::move(admin_token), std::move(console_amqp_url));
    analytics.SetObserver(
        [&console](const broker::Delivery& delivery, const events::Envelope& envelope) {
            console.Observe(delivery, envelope);
        });
    console.Start();
    analytics.Start();
    return runtime.Run();
}
