// The live console of SPEC section 10, served by orderflow-analytics: the page and its
// assets (built into the binary, see assets.hpp), the read API (/api/overview,
// /api/series, /api/dead-letters, /api/orders/{id}) and the write API
// (/api/dead-letters/replay, /api/dead-letters/purge) behind the admin token.
//
// Threading:
//  - the stream consumer's thread calls Observe() for every new event (LiveModel locks);
//  - the sampler thread owns two AMQP connections (queue depths, DLQ browsing) and the
//    management API calls; once a second it rebuilds the overview and, when a DLQ changed,
//    the dead-letter document, and publishes both as strings under `mutex_`;
//  - the admin thread (a TaskThread) owns the connection of replays and purges, one action at
//    a time (an HTTP handler only posts the action, which answers when done);
//  - the lookup thread reads the stream back for an order no longer in memory
//    (order_lookup.hpp), one lookup at a time;
//  - HTTP I/O threads only read the published strings, the model and the assets.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "broker/connection_options.hpp"
#include "broker/message.hpp"
#include "console/live_model.hpp"
#include "console/task_thread.hpp"
#include "events/events.hpp"
#include "service/runtime.hpp"

namespace orderflow::console {

// Empty, or why `dead_letter_url` (the console's broker URL) cannot go with `amqp_url`
// (analytics'): its vhost is another, so the console would show and change other DLQs.
std::string CheckDeadLetterUrl(std::string_view amqp_url, std::string_view dead_letter_url);

class Console final {
  public:
    // `admin_token` empty: read-only. `dead_letter_url`: the broker URL (a user of its own,
    // which may read the DLQs and publish replays) of the DLQ browsing, replays and purges;
    // empty: the service's own.
    Console(service::Runtime& runtime, std::string admin_token, std::string dead_letter_url = {});
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    // A new event of the stream (called on the stream consumer's thread).
    void Observe(const broker::Delivery& delivery, const events::Envelope& envelope);
    // Registers the routes and starts the threads; stopped by the runtime's shutdown.
    void Start();

  private:
    void SampleLoop();
    void Stop();
    // The write actions (replay, purge) and the order route.
    void AddActionRoutes();
    void AddOrderRoute();
    // The options of a connection that reads or changes the DLQs.
    broker::ConnectionOptions DeadLetterConnection(std::string_view role) const;

    service::Runtime& runtime_;
    std::string admin_token_;
    std::string dead_letter_url_;
    LiveModel model_;
    std::atomic<int64_t> stream_offset_{-1};  // the last x-stream-offset observed

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool refresh_dead_letters_ = true;
    std::string overview_json_;
    std::string dead_letters_json_;

    std::thread sampler_;
    TaskThread admin_{16};
    TaskThread lookup_{4};
};

}  // namespace orderflow::console
