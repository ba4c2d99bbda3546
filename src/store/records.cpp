// Helpers of the shared store values; see records.hpp and error.hpp.
#include "store/records.hpp"

#include "store/error.hpp"
#include "store/store.hpp"

namespace orderflow::store {

int StageRank(std::string_view status) {
    if (status == "accepted") return 0;
    if (status == "reserved" || status == "rejected") return 1;
    if (status == "notified") return 2;
    return -1;
}

std::map<std::string, int64_t> DefaultSeed() {
    return {{"burger", 100}, {"fries", 200}, {"pizza", 50}, {"soda", 150}, {"salad", 75}};
}

std::string_view KindName(StoreError::Kind kind) {
    switch (kind) {
        case StoreError::Kind::kTransient:
            return "transient";
        case StoreError::Kind::kUnavailable:
            return "unavailable";
        case StoreError::Kind::kBug:
            return "bug";
    }
    return "bug";
}

bool IsPostgresUrl(std::string_view url) {
    return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

}  // namespace orderflow::store
