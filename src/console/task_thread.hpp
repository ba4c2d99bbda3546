// One thread that runs queued tasks in order: the console's replays and purges (one action
// at a time, on a connection of their own) and its order lookups in the stream. An HTTP
// handler only posts a task, which answers when it has run; I/O threads never block.
//
// Threading: Post() from any thread; the tasks run on the one thread Start() made.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace orderflow::console {

class TaskThread final {
  public:
    // At most `max_pending` tasks wait; Post() refuses more.
    explicit TaskThread(size_t max_pending) : max_pending_(max_pending) {}
    ~TaskThread() { Stop(); }
    TaskThread(const TaskThread&) = delete;
    TaskThread& operator=(const TaskThread&) = delete;

    void Start();
    // A task is called with true on the thread, or at once with false (on the caller's
    // thread) when it is refused: while stopping, or when max_pending tasks already wait.
    // Either way it is called once, so it can always answer its request.
    using Task = std::function<void(bool run)>;
    void Post(Task task);
    // Runs what was posted, then joins.
    void Stop();

  private:
    void Loop();

    const size_t max_pending_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> tasks_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace orderflow::console
