// Unit tests (no broker): FieldTable/Properties <-> rabbitmq-c conversions, including a
// round trip through the AMQP wire encoding of tables.
#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "broker/impl/amqp_util.hpp"

using namespace orderflow::broker;

namespace {

// An amqp_pool_t that frees itself.
struct Pool {
    Pool() { init_amqp_pool(&pool, 4096); }
    ~Pool() { empty_amqp_pool(&pool); }
    amqp_pool_t pool;
};

// Encodes `table` as AMQP 0-9-1 bytes and decodes them again, as a broker would see it.
FieldTable WireRoundTrip(const FieldTable& table) {
    Pool pool;
    amqp_table_t encoded = impl::ToAmqpTable(table, &pool.pool);
    std::vector<char> buffer(64 * 1024);
    size_t offset = 0;
    REQUIRE(amqp_encode_table(amqp_bytes_t{buffer.size(), buffer.data()}, &encoded, &offset) ==
            AMQP_STATUS_OK);
    amqp_table_t decoded;
    size_t read_offset = 0;
    REQUIRE(amqp_decode_table(amqp_bytes_t{offset, buffer.data()}, &pool.pool, &decoded,
                              &read_offset) == AMQP_STATUS_OK);
    return impl::FromAmqpTable(decoded);
}

}  // namespace

TEST_CASE("every kind of field value survives the wire encoding", "[broker][fields]") {
    const FieldTable table{
        {"bool", true},
        {"int", int64_t{-1234567890123}},
        {"small", 7},
        {"double", 2.5},
        {"text", "héllo"},
        {"empty", ""},
        {"void", FieldValue()},
        {"array", FieldArray{1, "two", FieldArray{3.0}, FieldTable{{"k", "v"}}}},
        {"x-death", FieldArray{FieldTable{{"count", 2},
                                          {"queue", "inventory.order-placed"},
                                          {"routing-keys", FieldArray{"order.placed"}}}}},
    };
    CHECK(WireRoundTrip(table) == table);
}

TEST_CASE("broker integer kinds, timestamps and decimals read as numbers", "[broker][fields]") {
    std::vector<amqp_table_entry_t> entries;
    auto add = [&](const char* key, amqp_field_value_t value) {
        entries.push_back({amqp_cstring_bytes(key), value});
    };
    amqp_field_value_t v{};
    v.kind = AMQP_FIELD_KIND_I8, v.value.i8 = -8, add("i8", v);
    v.kind = AMQP_FIELD_KIND_U8, v.value.u8 = 200, add("u8", v);
    v.kind = AMQP_FIELD_KIND_I16, v.value.i16 = -300, add("i16", v);
    v.kind = AMQP_FIELD_KIND_U16, v.value.u16 = 60000, add("u16", v);
    v.kind = AMQP_FIELD_KIND_I32, v.value.i32 = -70000, add("i32", v);
    v.kind = AMQP_FIELD_KIND_U32, v.value.u32 = 4000000000u, add("u32", v);
    v.kind = AMQP_FIELD_KIND_U64, v.value.u64 = 5, add("u64", v);
    v.kind = AMQP_FIELD_KIND_TIMESTAMP, v.value.u64 = 1795000000, add("time", v);
    v.kind = AMQP_FIELD_KIND_F32, v.value.f32 = 1.5f, add("f32", v);
    v.kind = AMQP_FIELD_KIND_DECIMAL, v.value.decimal = {0, 42}, add("dec0", v);
    v.kind = AMQP_FIELD_KIND_DECIMAL, v.value.decimal = {2, 314}, add("dec2", v);
    v.kind = AMQP_FIELD_KIND_BYTES, v.value.bytes = amqp_cstring_bytes("raw"), add("bytes", v);
    const amqp_table_t table{static_cast<int>(entries.size()), entries.data()};

    const auto out = impl::FromAmqpTable(table);
    CHECK(out.at("i8").AsInt() == -8);
    CHECK(out.at("u8").AsInt() == 200);
    CHECK(out.at("i16").AsInt() == -300);
    CHECK(out.at("u16").AsInt() == 60000);
    CHECK(out.at("i32").AsInt() == -70000);
    CHECK(out.at("u32").AsInt() == 4000000000);
    CHECK(out.at("u64").AsInt() == 5);
    CHECK(out.at("time").AsInt() == 1795000000);
    CHECK(std::get<double>(out.at("f32").value) == 1.5);
    CHECK(out.at("dec0").AsInt() == 42);
    CHECK(std::get<double>(out.at("dec2").value) == Approx(3.14));
    CHECK(*out.at("bytes").AsString() == "raw");
}

TEST_CASE("hostile nesting is cut off instead of exhausting the stack", "[broker][fields]") {
    FieldValue deep = "bottom";
    for (int i = 0; i < 200; ++i) deep = FieldValue(FieldArray{deep});
    Pool pool;
    const FieldTable table{{"deep", deep}};
    const auto amqp = impl::ToAmqpTable(table, &pool.pool);
    const auto out = impl::FromAmqpTable(amqp);
    int depth = 0;
    const FieldValue* at = &out.at("deep");
    while (const auto* array = std::get_if<FieldArray>(&at->value)) {
        if (array->empty()) break;
        at = &array->front();
        ++depth;
    }
    CHECK(depth <= impl::kMaxFieldDepth + 1);
}

TEST_CASE("properties convert both ways and absent ones read as unset", "[broker][fields]") {
    Properties properties;
    properties.message_id = "m-1";
    properties.correlation_id = "order-1";
    properties.type = "OrderPlaced";
    properties.app_id = "ingress";
    properties.timestamp = 1795000000;
    properties.expiration = "200";
    properties.headers = {{"traceparent", "00-abc-def-01"}, {"x-attempts", 2}};
    Pool pool;
    amqp_basic_properties_t amqp;
    impl::ToAmqpProperties(properties, &pool.pool, amqp);
    CHECK((amqp._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0);
    CHECK(amqp.delivery_mode == 2);
    const auto back = impl::FromAmqpProperties(amqp);
    CHECK(back.content_type == "application/json");
    CHECK(back.delivery_mode == 2);
    CHECK(back.message_id == "m-1");
    CHECK(back.correlation_id == "order-1");
    CHECK(back.type == "OrderPlaced");
    CHECK(back.app_id == "ingress");
    CHECK(back.timestamp == 1795000000);
    CHECK(back.expiration == "200");
    CHECK(back.headers == properties.headers);

    const amqp_basic_properties_t bare{};
    const auto empty = impl::FromAmqpProperties(bare);
    CHECK(empty.content_type.empty());
    CHECK(empty.delivery_mode == 0);
    CHECK_FALSE(empty.timestamp.has_value());
    CHECK(empty.headers.empty());
}

TEST_CASE("header helpers read strings and integers", "[broker][fields]") {
    Properties properties;
    properties.headers = {{"x-attempts", 3}, {"as-text", "42"}, {"bad", "4x"}, {"flag", true}};
    CHECK(properties.IntHeader("x-attempts") == 3);
    CHECK(properties.IntHeader("as-text") == 42);
    CHECK_FALSE(properties.IntHeader("bad").has_value());
    CHECK_FALSE(properties.IntHeader("flag").has_value());
    CHECK_FALSE(properties.IntHeader("missing").has_value());
    REQUIRE(properties.Header("as-text") != nullptr);
    CHECK(*properties.Header("as-text") == "42");
    CHECK(properties.Header("x-attempts") == nullptr);
    CHECK(properties.Header("missing") == nullptr);
}
