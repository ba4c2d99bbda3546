// rabbitmq-c glue; see amqp_util.hpp.
#include "broker/impl/amqp_util.hpp"

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>
#include <fmt/format.h>

#include <cmath>
#include <new>

namespace orderflow::broker::impl {
namespace {

template <class T>
T* PoolAlloc(amqp_pool_t* pool, size_t count) {
    if (count == 0) return nullptr;
    void* memory = amqp_pool_alloc(pool, count * sizeof(T));
    if (memory == nullptr) throw std::bad_alloc();  // caught by the owning thread's loop
    return static_cast<T*>(memory);
}

amqp_field_value_t ToAmqpValue(const FieldValue& value, amqp_pool_t* pool);

amqp_array_t ToAmqpArray(const FieldArray& array, amqp_pool_t* pool) {
    amqp_array_t out{};
    out.entries = PoolAlloc<amqp_field_value_t>(pool, array.size());
    for (const auto& element : array) out.entries[out.num_entries++] = ToAmqpValue(element, pool);
    return out;
}

amqp_field_value_t ToAmqpValue(const FieldValue& value, amqp_pool_t* pool) {
    amqp_field_value_t out{};
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
                out.kind = AMQP_FIELD_KIND_VOID;
            } else if constexpr (std::is_same_v<T, bool>) {
                out.kind = AMQP_FIELD_KIND_BOOLEAN;
                out.value.boolean = v ? 1 : 0;
            } else if constexpr (std::is_same_v<T, int64_t>) {
                out.kind = AMQP_FIELD_KIND_I64;
                out.value.i64 = v;
            } else if constexpr (std::is_same_v<T, double>) {
                out.kind = AMQP_FIELD_KIND_F64;
                out.value.f64 = v;
            } else if constexpr (std::is_same_v<T, std::string>) {
                out.kind = AMQP_FIELD_KIND_UTF8;
                out.value.bytes = Bytes(v);
            } else if constexpr (std::is_same_v<T, FieldArray>) {
                out.kind = AMQP_FIELD_KIND_ARRAY;
                out.value.array = ToAmqpArray(v, pool);
            } else {
                out.kind = AMQP_FIELD_KIND_TABLE;
                out.value.table = ToAmqpTable(v, pool);
            }
        },
        value.value);
    return out;
}

}  // namespace

timeval ToTimeval(std::chrono::milliseconds duration) {
    const auto ms = std::max<int64_t>(0, duration.count());
    return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

std::string StatusText(int status) {
    return fmt::format("{} ({})", amqp_error_string2(status), status);
}

bool IsOk(const amqp_rpc_reply_t& reply) { return reply.reply_type == AMQP_RESPONSE_NORMAL; }

bool IsChannelClose(const amqp_rpc_reply_t& reply) {
    return reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
           reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD;
}

bool IsConnectionClose(const amqp_rpc_reply_t& reply) {
    return reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
           reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD;
}

bool IsTimeout(const amqp_rpc_reply_t& reply) {
    return reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
           reply.library_error == AMQP_STATUS_TIMEOUT;
}

uint16_t ReplyCode(const amqp_rpc_reply_t& reply) {
    if (IsChannelClose(reply)) {
        return static_cast<const amqp_channel_close_t*>(reply.reply.decoded)->reply_code;
    }
    if (IsConnectionClose(reply)) {
        return static_cast<const amqp_connection_close_t*>(reply.reply.decoded)->reply_code;
    }
    return 0;
}

std::string ReplyText(const amqp_rpc_reply_t& reply) {
    switch (reply.reply_type) {
        case AMQP_RESPONSE_NORMAL:
            return {};
        case AMQP_RESPONSE_NONE:
            return "no reply from the broker (missing RPC reply type)";
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return StatusText(reply.library_error);
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if (IsChannelClose(reply)) {
                const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
                return fmt::format("channel closed by the broker: {} {}", close->reply_code,
                                   ToString(close->reply_text));
            }
            if (IsConnectionClose(reply)) {
                const auto* close =
                    static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
                return fmt::format("connection closed by the broker: {} {}", close->reply_code,
                                   ToString(close->reply_text));
            }
            return fmt::format("unexpected method 0x{:08x} from the broker", reply.reply.id);
    }
    return "unknown reply type";
}

amqp_table_t ToAmqpTable(const FieldTable& table, amqp_pool_t* pool) {
    amqp_table_t out{};
    out.entries = PoolAlloc<amqp_table_entry_t>(pool, table.size());
    for (const auto& [key, value] : table) {
        if (key.size() > 255) continue;  // a short string on the wire
        auto& entry = out.entries[out.num_entries++];
        entry.key = Bytes(key);
        entry.value = ToAmqpValue(value, pool);
    }
    return out;
}

FieldTable FromAmqpTable(const amqp_table_t& table, int depth) {
    FieldTable out;
    if (depth > kMaxFieldDepth) return out;
    for (int i = 0; i < table.num_entries; ++i) {
        const auto& entry = table.entries[i];
        out.insert_or_assign(ToString(entry.key), FromAmqpValue(entry.value, depth));
    }
    return out;
}

FieldValue FromAmqpValue(const amqp_field_value_t& value, int depth) {
    const auto& v = value.value;
    switch (value.kind) {
        case AMQP_FIELD_KIND_BOOLEAN:
            return FieldValue(v.boolean != 0);
        case AMQP_FIELD_KIND_I8:
            return FieldValue(int64_t{v.i8});
        case AMQP_FIELD_KIND_U8:
            return FieldValue(int64_t{v.u8});
        case AMQP_FIELD_KIND_I16:
            return FieldValue(int64_t{v.i16});
        case AMQP_FIELD_KIND_U16:
            return FieldValue(int64_t{v.u16});
        case AMQP_FIELD_KIND_I32:
            return FieldValue(int64_t{v.i32});
        case AMQP_FIELD_KIND_U32:
            return FieldValue(int64_t{v.u32});
        case AMQP_FIELD_KIND_I64:
            return FieldValue(v.i64);
        // Values past INT64_MAX wrap; no broker or client we know sends them.
        case AMQP_FIELD_KIND_U64:
            return FieldValue(static_cast<int64_t>(v.u64));
        case AMQP_FIELD_KIND_TIMESTAMP:
            return FieldValue(static_cast<int64_t>(v.u64));
        case AMQP_FIELD_KIND_F32:
            return FieldValue(double{v.f32});
        case AMQP_FIELD_KIND_F64:
            return FieldValue(v.f64);
        case AMQP_FIELD_KIND_DECIMAL:
            // Unscaled decimals are integers; scaled ones keep their value as a double.
            if (v.decimal.decimals == 0) return FieldValue(int64_t{v.decimal.value});
            return FieldValue(static_cast<double>(v.decimal.value) /
                              std::pow(10.0, v.decimal.decimals));
        case AMQP_FIELD_KIND_UTF8:
        case AMQP_FIELD_KIND_BYTES:
            return FieldValue(ToString(v.bytes));
        case AMQP_FIELD_KIND_ARRAY: {
            FieldArray array;
            if (depth > kMaxFieldDepth) return FieldValue(std::move(array));
            array.reserve(static_cast<size_t>(std::max(0, v.array.num_entries)));
            for (int i = 0; i < v.array.num_entries; ++i) {
                array.push_back(FromAmqpValue(v.array.entries[i], depth + 1));
            }
            return FieldValue(std::move(array));
        }
        case AMQP_FIELD_KIND_TABLE:
            return FieldValue(FromAmqpTable(v.table, depth + 1));
        case AMQP_FIELD_KIND_VOID:
        default:
            return FieldValue();
    }
}

void ToAmqpProperties(const Properties& properties, amqp_pool_t* pool,
                      amqp_basic_properties_t& out) {
    out = amqp_basic_properties_t{};
    auto set_string = [&](const std::string& text, amqp_bytes_t& field, amqp_flags_t flag) {
        if (text.empty()) return;
        field = Bytes(text);
        out._flags |= flag;
    };
    set_string(properties.content_type, out.content_type, AMQP_BASIC_CONTENT_TYPE_FLAG);
    set_string(properties.message_id, out.message_id, AMQP_BASIC_MESSAGE_ID_FLAG);
    set_string(properties.correlation_id, out.correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG);
    set_string(properties.type, out.type, AMQP_BASIC_TYPE_FLAG);
    set_string(properties.app_id, out.app_id, AMQP_BASIC_APP_ID_FLAG);
    set_string(properties.expiration, out.expiration, AMQP_BASIC_EXPIRATION_FLAG);
    if (properties.delivery_mode != 0) {
        out.delivery_mode = properties.delivery_mode;
        out._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    }
    if (properties.timestamp) {
        out.timestamp = static_cast<uint64_t>(*properties.timestamp);
        out._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    }
    if (!properties.headers.empty()) {
        out.headers = ToAmqpTable(properties.headers, pool);
        out._flags |= AMQP_BASIC_HEADERS_FLAG;
    }
}

Properties FromAmqpProperties(const amqp_basic_properties_t& properties) {
    Properties out;
    const auto has = [&](amqp_flags_t flag) { return (properties._flags & flag) != 0; };
    out.content_type = has(AMQP_BASIC_CONTENT_TYPE_FLAG) ? ToString(properties.content_type) : "";
    out.delivery_mode = has(AMQP_BASIC_DELIVERY_MODE_FLAG) ? properties.delivery_mode : 0;
    if (has(AMQP_BASIC_MESSAGE_ID_FLAG)) out.message_id = ToString(properties.message_id);
    if (has(AMQP_BASIC_CORRELATION_ID_FLAG)) {
        out.correlation_id = ToString(properties.correlation_id);
    }
    if (has(AMQP_BASIC_TYPE_FLAG)) out.type = ToString(properties.type);
    if (has(AMQP_BASIC_APP_ID_FLAG)) out.app_id = ToString(properties.app_id);
    if (has(AMQP_BASIC_TIMESTAMP_FLAG)) {
        out.timestamp = static_cast<int64_t>(properties.timestamp);
    }
    if (has(AMQP_BASIC_EXPIRATION_FLAG)) out.expiration = ToString(properties.expiration);
    if (has(AMQP_BASIC_HEADERS_FLAG)) out.headers = FromAmqpTable(properties.headers);
    return out;
}

}  // namespace orderflow::broker::impl
