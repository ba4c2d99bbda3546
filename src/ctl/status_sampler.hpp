// One sample of the work queues' state, taken by `orderflowctl status` (once or every
// interval with --watch) and by the console of orderflow-analytics (every second).
//
// Where each figure comes from: the management API's numbers lag by up to one statistics
// emission interval (5 s by default), so the depths an operator acts on (ready, consumers,
// DLQ and delay-queue depths) come from AMQP passive declares, which are exact and
// immediate; unacked counts and the counters the rates are computed from exist only in the
// management API (GET /api/queues/<vhost>). The management counters of quorum queues lag
// or stand still on a busy broker, so the out rate is derived from the exact depths as
// well: out = in - d(ready)/dt (a drain with nothing coming in shows its real speed), and
// an unacked count whose record disagrees with the exact ready depth is flagged stale.
//
// Threading: not thread-safe; the thread that calls Sample() owns the AMQP connection
// (reopened after a failure).
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>

#include "broker/client.hpp"
#include "ctl/mgmt_api.hpp"
#include "ctl/rates.hpp"
#include "ctl/status.hpp"

namespace orderflow::ctl {

class StatusSampler final {
  public:
    // `read_stream`: also read orders.events' first and last offsets (stream_offsets.hpp), for
    // an exact message count; the console, which follows the stream anyway, does without.
    StatusSampler(broker::ConnectionOptions connection, HttpUrl mgmt, std::string vhost,
                  bool read_stream = false);
    std::expected<StatusSnapshot, std::string> Sample();

  private:
    std::expected<std::vector<MgmtQueue>, std::string> ListQueues();
    std::expected<int64_t, std::string> RetryDepth(const broker::QueueName& work,
                                                   const std::map<std::string, MgmtQueue>& by_name,
                                                   bool listed);
    std::expected<std::optional<broker::QueueInfo>, std::string> Depth(
        const broker::QueueName& queue);

    static constexpr int kMaxProbedRetryLevels = 20;

    broker::ConnectionOptions connection_;
    HttpUrl mgmt_;
    std::string vhost_;
    bool read_stream_;
    std::optional<broker::Client> client_;
    std::map<std::string, RateTracker> trackers_;
    std::map<std::string, DepthTrend> trends_;
};

}  // namespace orderflow::ctl
