// orderflow-analytics: follows the orders.events stream, keeps the figures of
// handlers::OrderStats in its store (SQLite, or the shared PostgreSQL of
// ORDERFLOW_DATABASE_URL, schema "analytics") with the stream offset it has reached, in one
// transaction per batch (so a restart resumes where it stopped and counts nothing twice),
// and answers GET /stats. Report mode reads a range of the stream once and prints the
// figures.
//
// Threading: the stream consumer's thread owns session_; GET /stats reads through one
// session per I/O thread; the readiness probe has a session of its own (probe_mutex_).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "broker/consumer.hpp"
#include "events/ids.hpp"
#include "handlers/analytics.hpp"
#include "service/runtime.hpp"
#include "store/store.hpp"

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
    // Runs `step` until the store takes it (an outage holds the stream, it loses nothing);
    // false when the service stops first.
    bool UntilStored(std::string_view what, const std::function<store::StoreResult<void>()>& step);

    Runtime& runtime_;
    StreamStart start_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<store::Session> session_;  // the consumer thread's
    std::mutex probe_mutex_;
    std::unique_ptr<store::Session> probe_;
    std::unique_ptr<broker::Consumer> consumer_;
    std::atomic<bool> stopping_{false};
    Observer observer_;
};

}  // namespace orderflow::service
