// Publisher with confirms and mandatory; see publisher.hpp.
//
// Threading: Publish() (any thread) touches only queue_/stopping_ under mutex_, the atomics,
// and the wake eventfd. The publisher thread owns channel_ (the connection, the socket and the
// in-flight map), blocked_, retire_by_ and backoff_, and runs every callback except the immediate
// kNotConnected/kStopped answers, which run on the caller's thread.
#include "broker/publisher.hpp"

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "broker/impl/backoff.hpp"
#include "broker/impl/confirm_channel.hpp"
#include "broker/impl/log.hpp"

namespace orderflow::broker {
namespace {

// Longest sleep while idle; rabbitmq-c sends heartbeats only from inside its read calls.
constexpr std::chrono::milliseconds kIdlePoll{50};
// A send stuck on a broker that stopped reading (resource alarm) is cut this long after
// the drain period of Stop().
constexpr std::chrono::seconds kStopGrace{5};
// After a nack the channel sends nothing more and is closed once the broker has answered
// everything it sent, or after this long: a publish the broker took is reported confirmed,
// not sent again as if the connection had been lost.
constexpr std::chrono::seconds kRetireWait{2};

struct Request {
    OutgoingMessage message;
    PublishCallback callback;
};

void Invoke(const PublishCallback& callback, PublishStatus status) {
    if (!callback) return;
    try {
        callback(status);
    } catch (const std::exception& error) {
        impl::LogWarning("publisher", fmt::format("publish callback threw: {}", error.what()));
    } catch (...) {
        impl::LogWarning("publisher", "publish callback threw a non-exception");
    }
}

}  // namespace

std::string_view StatusName(PublishStatus status) {
    static constexpr std::string_view kNames[] = {"confirmed", "nacked", "unroutable",
                                                  "not_connected", "stopped"};
    const auto index = static_cast<size_t>(status);
    return index < std::size(kNames) ? kNames[index] : "unknown";
}

class Publisher::Impl final {
  public:
    explicit Impl(Options options)
        : options_(std::move(options)),
          backoff_(options_.connection.reconnect_min, options_.connection.reconnect_max,
                   std::random_device{}()) {
        if (options_.max_in_flight == 0) options_.max_in_flight = 1;
    }
    ~Impl() { Stop(std::chrono::seconds(5)); }

    void Start() {
        std::lock_guard lock(mutex_);
        if (started_ || stopping_) return;
        started_ = true;
        thread_ = std::thread([this] {
            ::pthread_setname_np(::pthread_self(), "publisher");
            Run();
        });
    }

    void Publish(OutgoingMessage message, PublishCallback callback) {
        auto& properties = message.properties;
        if (properties.app_id.empty()) properties.app_id = options_.app_id;
        if (properties.content_type.empty()) properties.content_type = "application/json";
        if (properties.delivery_mode == 0) properties.delivery_mode = 2;
        if (!properties.timestamp) {
            properties.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
        }
        std::optional<PublishStatus> refused;
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                refused = PublishStatus::kStopped;
            } else if (!usable_.load()) {
                // SPEC 6: answer at once rather than hold what cannot be confirmed.
                refused = PublishStatus::kNotConnected;
            } else {
                queue_.push_back({std::move(message), std::move(callback)});
                wake = queue_.size() == 1;
            }
        }
        if (refused) {
            counters_.Count(*refused);
            Invoke(callback, *refused);
        } else if (wake) {
            wakeup_.Notify();
        }
    }

    bool Connected() const { return usable_.load(); }

    PublisherStats Stats() const { return counters_.Snapshot(); }

    void Stop(std::chrono::milliseconds drain) {
        {
            std::lock_guard lock(mutex_);
            if (!stopping_) {
                stopping_ = true;
                drain_deadline_ = std::chrono::steady_clock::now() + drain;
            }
        }
        wakeup_.Notify();
        std::unique_lock lock(mutex_);
        if (!thread_.joinable()) return;
        if (!finished_cv_.wait_for(lock, drain + kStopGrace, [this] { return finished_; })) {
            // The thread is stuck in a send (the broker stopped reading): make it fail.
            if (const int fd = socket_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
        }
        lock.unlock();
        thread_.join();
    }

  private:
    void Run() {
        while (!StopDue()) {
            try {
                Step();
            } catch (const std::exception& error) {
                Disconnect(fmt::format("internal error: {}", error.what()));
                Sleep(backoff_.Next());
            }
        }
        Shutdown();
        std::lock_guard lock(mutex_);
        finished_ = true;
        finished_cv_.notify_all();
    }

    // Stopping ends the loop once everything sent is confirmed, or at the drain deadline.
    bool StopDue() {
        std::lock_guard lock(mutex_);
        if (!stopping_) return false;
        if (!channel_) return true;
        return (queue_.empty() && channel_->InFlight() == 0) ||
               std::chrono::steady_clock::now() >= drain_deadline_;
    }

    void Step() {
        if (!channel_) {
            FailQueue(PublishStatus::kNotConnected);
            if (Connect()) return;
            Sleep(backoff_.Next());
            return;
        }
        if (retire_by_) {
            Retire();
            return;
        }
        const bool sent = SendQueued();
        if (!channel_) return;
        const bool received = ReadFrames();
        if (!channel_) return;
        if (!sent && !received) channel_->Wait(wakeup_, kIdlePoll);
    }

    // A channel that got a nack: reads the answers to what it sent, then is closed.
    void Retire() {
        const bool received = ReadFrames();
        if (!channel_) return;
        if (channel_->InFlight() == 0 || std::chrono::steady_clock::now() >= *retire_by_) {
            Disconnect("the broker nacked a publish: reconnecting for a fresh channel");
            return;
        }
        if (!received) channel_->Wait(wakeup_, kIdlePoll);
    }

    bool Connect() {
        auto channel = impl::ConfirmChannel::Open(options_.connection, options_.topology);
        if (!channel) {
            impl::LogWarning("publisher", channel.error());
            return false;
        }
        channel_ = std::move(*channel);
        socket_fd_ = channel_->Fd();
        blocked_ = false;
        backoff_.Reset();
        SetUsable(true);
        return true;
    }

    // Sends what is queued, up to max_in_flight unconfirmed. True if anything was sent.
    bool SendQueued() {
        if (blocked_) {
            FailQueue(PublishStatus::kNotConnected);
            return false;
        }
        const size_t in_flight = std::min(options_.max_in_flight, channel_->InFlight());
        const size_t room = options_.max_in_flight - in_flight;
        if (room == 0) return false;
        std::vector<Request> batch;
        {
            std::lock_guard lock(mutex_);
            const size_t take = std::min(room, queue_.size());
            batch.reserve(take);
            for (size_t i = 0; i < take; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        channel_->BeginBatch(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
            auto sent = channel_->Publish(batch[i].message, batch[i].callback);
            if (!sent) {
                for (size_t j = i; j < batch.size(); ++j) {
                    counters_.Count(PublishStatus::kNotConnected);
                    Invoke(batch[j].callback, PublishStatus::kNotConnected);
                }
                Disconnect(sent.error());
                return true;
            }
            counters_.published.fetch_add(1, std::memory_order_relaxed);
        }
        if (auto flushed = channel_->Flush(); !flushed) {
            // Every message of the batch is in flight: Disconnect fails them all.
            Disconnect(flushed.error());
        }
        return !batch.empty();
    }

    // Handles the frames that are ready. True if any arrived.
    bool ReadFrames() {
        std::vector<impl::Completion> done;
        const auto result = channel_->Read(done);
        const bool nacked = std::any_of(done.begin(), done.end(), [](const auto& completion) {
            return completion.second == PublishStatus::kNacked;
        });
        Complete(done);
        if (result.lost) {
            Disconnect(*result.lost);
        } else if (nacked && !retire_by_) {
            // A quorum queue could not take the message. It is full (an operator's length
            // limit: the contract's queues overflow with reject-publish), or, on RabbitMQ
            // 3.10, this channel's first publish to the queue met a dead leader (queues with
            // reject-publish register the publisher with the leader named in the queue
            // record) and it nacks every later publish to that queue, for minutes. A new
            // connection gets a new channel that asks the new leader. Until then, publishes
            // are refused; those already sent are answered first (Retire).
            retire_by_ = std::chrono::steady_clock::now() + kRetireWait;
            SetUsable(false);
            FailQueue(PublishStatus::kNotConnected);
        } else if (result.blocked && !retire_by_) {
            // While a resource alarm blocks us, refuse rather than queue (SPEC 6).
            blocked_ = *result.blocked;
            SetUsable(!blocked_);
        }
        return result.received;
    }

    void Disconnect(const std::string& reason) {
        impl::LogWarning("publisher", reason);
        SetUsable(false);
        retire_by_.reset();
        socket_fd_ = -1;
        std::vector<impl::Completion> failed;
        if (channel_) {
            channel_->FailAll(PublishStatus::kNotConnected, failed);
            channel_->Close();
            channel_.reset();
        }
        Complete(failed);
        FailQueue(PublishStatus::kNotConnected);
    }

    void Shutdown() {
        FailQueue(PublishStatus::kStopped);
        std::vector<impl::Completion> failed;
        socket_fd_ = -1;
        if (channel_) {
            channel_->FailAll(PublishStatus::kStopped, failed);
            channel_->Close();
            channel_.reset();
        }
        Complete(failed);
        SetUsable(false);
    }

    void Complete(std::vector<impl::Completion>& done) {
        for (auto& [callback, status] : done) {
            counters_.Count(status);
            Invoke(callback, status);
        }
        done.clear();
    }

    void FailQueue(PublishStatus status) {
        std::deque<Request> failed;
        {
            std::lock_guard lock(mutex_);
            failed.swap(queue_);
        }
        for (auto& request : failed) {
            counters_.Count(status);
            Invoke(request.callback, status);
        }
    }

    void SetUsable(bool usable) {
        if (usable_.exchange(usable) == usable) return;
        if (options_.on_connection_change) {
            try {
                options_.on_connection_change(usable);
            } catch (...) {
                impl::LogWarning("publisher", "on_connection_change threw");
            }
        }
    }

    // The backoff sleep between connection attempts, cut short by Stop() (or Publish(),
    // which is answered at once while disconnected).
    void Sleep(std::chrono::milliseconds duration) {
        const auto until = std::chrono::steady_clock::now() + duration;
        for (auto now = std::chrono::steady_clock::now(); now < until;
             now = std::chrono::steady_clock::now()) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return;
            }
            wakeup_.Wait(std::chrono::ceil<std::chrono::milliseconds>(until - now));
            FailQueue(PublishStatus::kNotConnected);
        }
    }

    Options options_;
    impl::Wakeup wakeup_;

    mutable std::mutex mutex_;  // guards queue_, started_, stopping_, drain_deadline_, finished_
    std::condition_variable finished_cv_;
    std::deque<Request> queue_;
    bool started_ = false;
    bool stopping_ = false;
    bool finished_ = false;
    std::chrono::steady_clock::time_point drain_deadline_;
    std::thread thread_;

    std::atomic<bool> usable_{false};  // connected, channel in confirm mode, not blocked
    std::atomic<int> socket_fd_{-1};   // for Stop()'s last-resort shutdown only
    impl::PublishCounters counters_;

    // Publisher thread only.
    std::unique_ptr<impl::ConfirmChannel> channel_;
    bool blocked_ = false;
    std::optional<std::chrono::steady_clock::time_point> retire_by_;  // set after a nack
    impl::Backoff backoff_;
};

Publisher::Publisher(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Publisher::~Publisher() = default;
void Publisher::Start() { impl_->Start(); }
void Publisher::Publish(OutgoingMessage message, PublishCallback callback) {
    impl_->Publish(std::move(message), std::move(callback));
}
std::future<PublishStatus> Publisher::Publish(OutgoingMessage message) {
    auto promise = std::make_shared<std::promise<PublishStatus>>();
    auto future = promise->get_future();
    impl_->Publish(std::move(message),
                   [promise](PublishStatus status) { promise->set_value(status); });
    return future;
}
bool Publisher::Connected() const { return impl_->Connected(); }
PublisherStats Publisher::Stats() const { return impl_->Stats(); }
void Publisher::Stop(std::chrono::milliseconds drain) { impl_->Stop(drain); }

}  // namespace orderflow::broker
