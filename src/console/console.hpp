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
//  - the admin thread owns the connection of replays and purges, one action at a time,
//    taken from `actions_` (an HTTP handler only enqueues and answers from there);
//  - HTTP I/O threads only read the published strings, the model and the assets.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "broker/message.hpp"
#include "console/live_model.hpp"
#include "events/events.hpp"
#include "service/runtime.hpp"

namespace orderflow::console {

class Console final {
  public:
    // `admin_token` empty: read-only.
    Console(service::Runtime& runtime, std::string admin_token);
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    // A new event of the stream (called on the stream consumer's thread).
    void Observe(const broker::Delivery& delivery, const events::Envelope& envelope);
    // Registers the routes and starts the threads; stopped by the runtime's shutdown.
    void Start();

  private:
    void SampleLoop();
    void AdminLoop();
    void Enqueue(std::function<void()> action);
    void Stop();

    service::Runtime& runtime_;
    std::string admin_token_;
    LiveModel model_;
    std::atomic<int64_t> stream_offset_{-1};  // the last x-stream-offset observed

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool refresh_dead_letters_ = true;
    std::string overview_json_;
    std::string dead_letters_json_;
    std::deque<std::function<void()>> actions_;

    std::thread sampler_;
    std::thread admin_;
};

}  // namespace orderflow::console
