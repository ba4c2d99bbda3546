// orderflow-analytics: follows the orders.events stream, keeps the figures of
// handlers::OrderStats in SQLite with the stream offset it has reached (so a restart
// resumes where it stopped), and answers GET /stats. Report mode reads a range of the
// stream once and prints the figures.
//
// Threading: the stream consumer's thread owns the write connection; GET /stats reads
// through one connection per I/O thread.
#pragma once

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "broker/consumer.hpp"
#include "events/ids.hpp"
#include "handlers/analytics.hpp"
#include "service/runtime.hpp"

namespace orderflow::service {

// --from: "first", "last", "next" or an ISO-8601 time (events before it are skipped).
struct StreamStart {
    std::string offset = "first";            // x-stream-offset given to the broker
    std::optional<events::TimePoint> since;  // client-side filter for a time start
};
std::optional<StreamStart> ParseStreamStart(std::string_view text);

// Reads the stream from `start` to its current end (no delivery for `idle`, or an event
// published after the report began) and returns the figures.
std::expected<handlers::OrderStats, std::string> ReportStats(
    const broker::ConnectionOptions& options, const StreamStart& start,
    std::chrono::milliseconds idle);

class AnalyticsService final {
  public:
    // `start` applies only when no offset is stored yet.
    AnalyticsService(Runtime& runtime, StreamStart start);
    ~AnalyticsService();
    void Start();
    // Called on the stream consumer's thread with every event counted (new event ids
    // only), after its batch committed; the console's live figures come from here.
    using Observer = std::function<void(const broker::Delivery&, const events::Envelope&)>;
    void SetObserver(Observer observer) { observer_ = std::move(observer); }

  private:
    void HandleBatch(const std::vector<broker::Delivery>& batch,
                     std::vector<broker::Disposition>& out);

    Runtime& runtime_;
    StreamStart start_;
    std::unique_ptr<SQLite::Database> db_;
    std::unique_ptr<broker::Consumer> consumer_;
    Observer observer_;
};

}  // namespace orderflow::service
