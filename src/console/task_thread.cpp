// A thread of queued tasks; see task_thread.hpp.
#include "console/task_thread.hpp"

namespace orderflow::console {

void TaskThread::Start() {
    thread_ = std::thread([this] { Loop(); });
}

void TaskThread::Post(Task task) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_ && tasks_.size() < max_pending_) {
            tasks_.push_back(std::move(task));
            wake_.notify_one();
            return;
        }
    }
    task(false);
}

void TaskThread::Stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void TaskThread::Loop() {
    while (true) {
        Task task;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, nothing left
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        task(true);
    }
}

}  // namespace orderflow::console
