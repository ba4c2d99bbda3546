// Internal rabbitmq-c glue: error texts, and conversions between rabbitmq-c tables and
// properties and orderflow's FieldTable/Properties. Only src/broker includes this header.
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/message.hpp"

namespace orderflow::broker::impl {

// Nesting deeper than this (only possible from a hostile peer) is cut off on decode, so a
// crafted header cannot exhaust the stack of a consumer.
inline constexpr int kMaxFieldDepth = 32;

// A view of `text` for rabbitmq-c; `text` must outlive the use of the result.
inline amqp_bytes_t Bytes(std::string_view text) {
    return amqp_bytes_t{text.size(),
                        const_cast<char*>(text.data())};  // rabbitmq-c is not const-correct
}
inline std::string ToString(amqp_bytes_t bytes) {
    return bytes.len == 0 ? std::string()
                          : std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}
timeval ToTimeval(std::chrono::milliseconds duration);

std::string StatusText(int status);                    // amqp_error_string2 plus the code
std::string ReplyText(const amqp_rpc_reply_t& reply);  // "", or why the call failed
// The AMQP reply code of a server exception (404, 406, 320...), 0 for anything else.
uint16_t ReplyCode(const amqp_rpc_reply_t& reply);
bool IsOk(const amqp_rpc_reply_t& reply);
bool IsChannelClose(const amqp_rpc_reply_t& reply);
bool IsConnectionClose(const amqp_rpc_reply_t& reply);
bool IsTimeout(const amqp_rpc_reply_t& reply);  // library exception AMQP_STATUS_TIMEOUT

// Builds the rabbitmq-c form of `table`. Arrays live in `pool`; strings point into `table`,
// which must outlive the result. Keys longer than 255 bytes (not encodable) are skipped.
amqp_table_t ToAmqpTable(const FieldTable& table, amqp_pool_t* pool);
FieldTable FromAmqpTable(const amqp_table_t& table, int depth = 0);
FieldValue FromAmqpValue(const amqp_field_value_t& value, int depth = 0);

// Strings and headers of `out` point into `properties` (and `pool`).
void ToAmqpProperties(const Properties& properties, amqp_pool_t* pool,
                      amqp_basic_properties_t& out);
// An absent content_type reads as empty and an absent delivery_mode as 0, so a copy made
// from a delivery says what the sender set; the publisher fills defaults when sending.
Properties FromAmqpProperties(const amqp_basic_properties_t& properties);

}  // namespace orderflow::broker::impl
