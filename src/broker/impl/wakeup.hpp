// Internal: an eventfd that other threads use to wake an owner thread sleeping in poll(2)
// beside its socket (Publisher::Publish and Stop wake the publisher thread).
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <system_error>

namespace orderflow::broker::impl {

class Wakeup final {
  public:
    Wakeup() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    ~Wakeup() { ::close(fd_); }
    Wakeup(const Wakeup&) = delete;
    Wakeup& operator=(const Wakeup&) = delete;

    int Fd() const { return fd_; }
    void Notify() {  // any thread
        const uint64_t one = 1;
        [[maybe_unused]] const auto written = ::write(fd_, &one, sizeof one);
    }
    void Reset() {  // owner thread, after poll(2) said Fd() is readable
        uint64_t count = 0;
        [[maybe_unused]] const auto read = ::read(fd_, &count, sizeof count);
    }
    // Owner thread: sleeps until notified or `timeout`.
    void Wait(std::chrono::milliseconds timeout) {
        pollfd fd{fd_, POLLIN, 0};
        if (::poll(&fd, 1, static_cast<int>(timeout.count())) > 0) Reset();
    }

  private:
    const int fd_;
};

}  // namespace orderflow::broker::impl
