// Group-commit writer; see store_writer.hpp.
#include "service/store_writer.hpp"

#include <pthread.h>

#include <vector>

#include "telemetry/log.hpp"

namespace orderflow::service {

StoreWriter::StoreWriter(std::unique_ptr<store::Session> session) : session_(std::move(session)) {
    thread_ = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "store-writer");
        Run();
    });
}

StoreWriter::~StoreWriter() { Stop(); }

void StoreWriter::Submit(Work work, Done done) {
    {
        std::lock_guard lock(mutex_);
        if (!stop_) {
            queue_.emplace_back(std::move(work), std::move(done));
            wake_.notify_one();
            return;
        }
    }
    if (done) done(false);
}

void StoreWriter::Run() {
    constexpr size_t kMaxGroup = 2000;
    std::vector<std::pair<Work, Done>> group;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty() && stop_) return;
            while (!queue_.empty() && group.size() < kMaxGroup) {
                group.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        std::vector<bool> ok(group.size(), false);
        auto committed = session_->Transact([&](store::UnitOfWork& unit) {
            for (size_t i = 0; i < group.size(); ++i) {
                // A savepoint per item: one failing write must not undo the others.
                unit.Savepoint();
                try {
                    group[i].first(unit);
                    unit.ReleaseSavepoint();
                    ok[i] = true;
                } catch (const store::StoreException&) {
                    throw;  // the transaction is lost: every item fails
                } catch (const std::exception& e) {
                    unit.RollbackSavepoint();
                    ok[i] = false;
                    telemetry::Log(telemetry::LogLevel::kError, "store write failed",
                                   {{"error", e.what()}});
                }
            }
        });
        if (!committed) {
            telemetry::Log(telemetry::LogLevel::kError, "store commit failed",
                           {{"error", committed.error().message},
                            {"kind", store::KindName(committed.error().kind)}});
        }
        for (size_t i = 0; i < group.size(); ++i) {
            if (group[i].second) group[i].second(committed.has_value() && ok[i]);
        }
        group.clear();
    }
}

void StoreWriter::Stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace orderflow::service
