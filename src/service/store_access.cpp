// Per-thread store sessions and the STORE_UNAVAILABLE answer; see store_access.hpp.
#include "service/store_access.hpp"

#include <map>

namespace orderflow::service {

store::Session& ReaderSession(store::Store& store) {
    thread_local std::map<store::Store*, std::unique_ptr<store::Session>> sessions;
    auto& session = sessions[&store];
    if (!session) session = store.Connect(store::Durability::kNormal);
    return *session;
}

http::Response StoreUnavailable(const store::StoreError& error) {
    auto response = http::JsonError(
        503, "STORE_UNAVAILABLE", "The database is not available; try again later", error.message);
    response.headers.emplace_back("Retry-After", "2");
    return response;
}

std::unique_ptr<store::Store> OpenServiceStore(const Config& config) {
    return store::OpenStore(store::StoreOptions{
        .service = config.service,
        .database_url = config.database_url,
        .sqlite_path = config.DbPath(),
    });
}

}  // namespace orderflow::service
