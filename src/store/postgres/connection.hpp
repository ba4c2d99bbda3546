// A libpq connection with errors as StoreException (never seen outside src/store): the
// SQLSTATE says whether to retry now (serialization failure, deadlock), wait for the
// database (connection lost, shutting down) or give up (a bug).
//
// Threading: one thread at a time, like the PGconn it owns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/error.hpp"

struct pg_conn;
struct pg_result;

namespace orderflow::store::postgres {

class Rows final {
  public:
    explicit Rows(pg_result* result);
    ~Rows();
    Rows(Rows&& other) noexcept;
    Rows(const Rows&) = delete;
    Rows& operator=(const Rows&) = delete;
    Rows& operator=(Rows&&) = delete;

    int Count() const;
    std::string Text(int row, int column) const;
    int64_t Int64(int row, int column) const;
    bool IsNull(int row, int column) const;
    int Affected() const;  // rows changed by an INSERT/UPDATE/DELETE

  private:
    pg_result* result_;
};

// A parameter: text, or SQL NULL.
using Param = std::optional<std::string>;

class Connection final {
  public:
    // `url`: a libpq URI or connection string. `schema`: set as search_path (may be empty).
    // Does not connect yet: the first call does (and throws kUnavailable if it cannot).
    Connection(std::string url, std::string schema);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Rows Exec(std::string_view sql, const std::vector<Param>& params = {});
    // Several statements without parameters in one round trip.
    void ExecScript(std::string_view sql);
    // Rolls back whatever transaction is open; never throws.
    void RollbackQuietly();
    bool Connected() const;
    // Round trips since the connection was made (Exec and ExecScript calls), for the bench.
    uint64_t RoundTrips() const { return round_trips_; }

  private:
    void EnsureConnected();
    [[noreturn]] void Fail(pg_result* result, std::string_view sql);

    std::string url_;
    std::string schema_;
    pg_conn* conn_ = nullptr;
    uint64_t round_trips_ = 0;
};

// A PostgreSQL array literal ('{"a","b"}') of text values, for = ANY($1) and unnest($1).
std::string TextArray(const std::vector<std::string>& values);
std::string TextArray(const std::vector<std::optional<std::string>>& values);
std::string IntArray(const std::vector<int64_t>& values);

}  // namespace orderflow::store::postgres
