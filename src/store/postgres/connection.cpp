// libpq connection and results; see connection.hpp.
#include "store/postgres/connection.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

namespace orderflow::store::postgres {
namespace {

StoreError::Kind KindOf(std::string_view sqlstate) {
    if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
        return StoreError::Kind::kTransient;  // serialization, deadlock, lock not available
    }
    if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate == "53300" ||
        sqlstate == "3D000") {
        return StoreError::Kind::kUnavailable;  // connection, shutdown, too many connections
    }
    return StoreError::Kind::kBug;
}

void AppendQuoted(std::string& out, std::string_view value) {
    out += '"';
    for (const char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

}  // namespace

Rows::Rows(pg_result* result) : result_(result) {}
Rows::~Rows() {
    if (result_ != nullptr) PQclear(result_);
}
Rows::Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
int Rows::Count() const { return PQntuples(result_); }
std::string Rows::Text(int row, int column) const {
    return std::string(PQgetvalue(result_, row, column),
                       static_cast<size_t>(PQgetlength(result_, row, column)));
}
int64_t Rows::Int64(int row, int column) const {
    return std::stoll(PQgetvalue(result_, row, column));
}
bool Rows::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
int Rows::Affected() const {
    const char* tuples = PQcmdTuples(result_);
    return tuples != nullptr && *tuples != '\0' ? std::stoi(tuples) : 0;
}

Connection::Connection(std::string url, std::string schema)
    : url_(std::move(url)), schema_(std::move(schema)) {}

Connection::~Connection() {
    if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::Connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

void Connection::EnsureConnected() {
    if (Connected()) return;
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
    // connect_timeout first: a value in the URL overrides it.
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const std::string app = schema_.empty() ? "orderflow" : "orderflow-" + schema_;
    const char* values[] = {"3", app.c_str(), url_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, 1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
        std::string message = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
        while (!message.empty() && message.back() == '\n') message.pop_back();
        if (conn_ != nullptr) PQfinish(conn_);
        conn_ = nullptr;
        throw StoreException(
            {StoreError::Kind::kUnavailable, "cannot connect to PostgreSQL: " + message});
    }
    if (!schema_.empty()) {
        ExecScript(fmt::format("SET search_path TO \"{}\"", schema_));
    }
}

void Connection::Fail(pg_result* result, std::string_view sql) {
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    auto kind = KindOf(state != nullptr ? state : "");
    if (PQstatus(conn_) != CONNECTION_OK) kind = StoreError::Kind::kUnavailable;
    if (result != nullptr) PQclear(result);
    const auto head = sql.substr(0, 60);
    throw StoreException(
        {kind, fmt::format("PostgreSQL: {} ({}; in: {})", message, state ? state : "-", head)});
}

Rows Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
    EnsureConnected();
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    const std::string text(sql);
    ++round_trips_;
    pg_result* result = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                     values.data(), nullptr, nullptr, 0);
    const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Fail(result, sql);
    return Rows(result);
}

void Connection::ExecScript(std::string_view sql) {
    EnsureConnected();
    const std::string text(sql);
    ++round_trips_;
    pg_result* result = PQexec(conn_, text.c_str());
    // PQexec returns the last statement's result; an error stops the script there.
    const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Fail(result, sql);
    PQclear(result);
}

void Connection::RollbackQuietly() {
    if (!Connected()) return;
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
    if (pg_result* result = PQexec(conn_, "ROLLBACK"); result != nullptr) PQclear(result);
}

std::string TextArray(const std::vector<std::string>& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        AppendQuoted(out, values[i]);
    }
    return out + "}";
}

std::string TextArray(const std::vector<std::optional<std::string>>& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        if (values[i]) {
            AppendQuoted(out, *values[i]);
        } else {
            out += "NULL";
        }
    }
    return out + "}";
}

std::string IntArray(const std::vector<int64_t>& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(values[i]);
    }
    return out + "}";
}

}  // namespace orderflow::store::postgres
