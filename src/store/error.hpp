// Store failures as values: what a caller can do about them, not which library failed.
#pragma once

#include <expected>
#include <stdexcept>
#include <string>

namespace orderflow::store {

struct StoreError {
    enum class Kind {
        kTransient,    // try again now: serialization failure, deadlock, lock timeout
        kUnavailable,  // the database is away (down, restarting, unreachable): wait for it
        kBug,          // a constraint or statement error: retrying will not help
    };
    Kind kind = Kind::kBug;
    std::string message;
};

std::string_view KindName(StoreError::Kind kind);

template <class T>
using StoreResult = std::expected<T, StoreError>;

// Thrown by the table interfaces inside a unit of work only; Session::Transact turns it
// back into a StoreError, so nothing outside src/store sees it.
class StoreException final : public std::runtime_error {
  public:
    explicit StoreException(StoreError error)
        : std::runtime_error(error.message), error_(std::move(error)) {}
    const StoreError& Error() const { return error_; }

  private:
    StoreError error_;
};

// Marks a session as inside Transact. A Transact called from the work of another on the same
// session is refused (kBug): SQLite would join the outer transaction, PostgreSQL would commit
// the outer one's work early.
class TransactScope final {
  public:
    explicit TransactScope(bool& active) : active_(active), nested_(active) { active_ = true; }
    ~TransactScope() {
        if (!nested_) active_ = false;
    }
    TransactScope(const TransactScope&) = delete;
    TransactScope& operator=(const TransactScope&) = delete;
    bool Nested() const { return nested_; }
    static StoreError NestedError() {
        return {StoreError::Kind::kBug, "Transact called inside a transaction of the same session"};
    }

  private:
    bool& active_;
    const bool nested_;
};

}  // namespace orderflow::store
