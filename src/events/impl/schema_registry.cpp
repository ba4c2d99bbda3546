// Compiles the embedded schemas once and turns RapidJSON's terse validation failures into
// messages an operator can act on.
#include "events/impl/schema_registry.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "events/impl/embedded_schemas.hpp"
#include "events/impl/json_document.hpp"

namespace orderflow::events::impl {
namespace {

constexpr std::array<std::string_view, 5> kFileNames{
    "order_request.v1.json",      "order_placed.v1.json",      "inventory_reserved.v1.json",
    "inventory_rejected.v1.json", "notification_sent.v1.json",
};

using SchemaPointer = SchemaDocument::PointerType;

std::string_view AsView(const rapidjson::Value& value) {
    return {value.GetString(), value.GetStringLength()};
}

// RapidJSON 1.1 mishandles `"additionalProperties": false` next to patternProperties: a key that
// matches a pattern gets no value schema and is checked against the parent object's schema.
// `{"not": {}}` means the same thing in draft-04 and takes RapidJSON's working code path.
void WorkAroundPatternPropertiesBug(rapidjson::Value& schema,
                                    rapidjson::Document::AllocatorType& allocator) {
    if (!schema.IsObject()) {
        if (schema.IsArray()) {
            for (auto& element : schema.GetArray())
                WorkAroundPatternPropertiesBug(element, allocator);
        }
        return;
    }
    const auto additional = schema.FindMember("additionalProperties");
    if (schema.HasMember("patternProperties") && additional != schema.MemberEnd() &&
        additional->value.IsFalse()) {
        rapidjson::Value never(rapidjson::kObjectType);
        never.AddMember("not", rapidjson::Value(rapidjson::kObjectType), allocator);
        additional->value = never;
    }
    for (auto& member : schema.GetObject()) WorkAroundPatternPropertiesBug(member.value, allocator);
}

struct CompiledSchema {
    rapidjson::Document source;  // kept: error messages quote limits from it
    std::unique_ptr<SchemaDocument> compiled;
};

[[noreturn]] void BrokenBuild(std::string_view name, std::string_view why) {
    // The schemas are compiled into the binary, so this is a build defect, not an input error.
    std::fprintf(stderr, "orderflow: embedded schema %.*s is unusable: %.*s\n",
                 static_cast<int>(name.size()), name.data(), static_cast<int>(why.size()),
                 why.data());
    std::abort();
}

class Registry final {
  public:
    Registry() {
        for (std::size_t i = 0; i < kFileNames.size(); ++i) {
            const std::string_view* text = nullptr;
            for (const auto& embedded : EmbeddedSchemas()) {
                if (embedded.name == kFileNames[i]) text = &embedded.text;
            }
            if (text == nullptr) BrokenBuild(kFileNames[i], "not embedded");
            auto& schema = schemas_[i];
            if (auto parsed = ParseJson(*text, schema.source); !parsed) {
                BrokenBuild(kFileNames[i], parsed.error().message);
            }
            WorkAroundPatternPropertiesBug(schema.source, schema.source.GetAllocator());
            schema.compiled = std::make_unique<SchemaDocument>(schema.source);
        }
    }

    const CompiledSchema& Get(SchemaId id) const { return schemas_[static_cast<std::size_t>(id)]; }

  private:
    std::array<CompiledSchema, kFileNames.size()> schemas_;
};

const Registry& Schemas() {
    // Built on first use; C++ makes the initialisation thread-safe. Not leaked on purpose:
    // RapidJSON packs string pointers into 48 bits, so LeakSanitizer would report a leaked
    // registry's strings as lost.
    static const Registry registry;
    return registry;
}

std::string PointerText(const SchemaPointer& pointer) {
    if (pointer.GetTokenCount() == 0) return "(root)";
    rapidjson::StringBuffer buffer;
    pointer.Stringify(buffer);
    return Printable({buffer.GetString(), buffer.GetSize()});
}

std::string Compact(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return Printable({buffer.GetString(), buffer.GetSize()}, 96);
}

// The subschema that applies to `name` inside an object `schema` (properties first, then
// patternProperties, then a schema-valued additionalProperties), or to an element of an array.
const rapidjson::Value* ChildSchema(const rapidjson::Value& schema, std::string_view name) {
    if (!schema.IsObject()) return nullptr;
    const auto properties = schema.FindMember("properties");
    if (properties != schema.MemberEnd() && properties->value.IsObject()) {
        for (const auto& property : properties->value.GetObject()) {
            if (AsView(property.name) == name) return &property.value;
        }
    }
    const auto patterns = schema.FindMember("patternProperties");
    if (patterns != schema.MemberEnd() && patterns->value.IsObject()) {
        for (const auto& pattern : patterns->value.GetObject()) {
            try {
                const std::regex regex(pattern.name.GetString(), pattern.name.GetStringLength());
                if (std::regex_search(name.begin(), name.end(), regex)) return &pattern.value;
            } catch (const std::regex_error&) {
                // RapidJSON skips a pattern std::regex cannot compile; so do we.
            }
        }
    }
    const auto additional = schema.FindMember("additionalProperties");
    if (additional != schema.MemberEnd() && additional->value.IsObject()) {
        return &additional->value;
    }
    const auto items = schema.FindMember("items");
    if (items != schema.MemberEnd() && items->value.IsObject()) return &items->value;
    return nullptr;
}

// Walks the schema along a document pointer.
const rapidjson::Value* SchemaAt(const rapidjson::Value& root, const SchemaPointer& pointer) {
    const rapidjson::Value* schema = &root;
    for (std::size_t i = 0; schema != nullptr && i < pointer.GetTokenCount(); ++i) {
        const auto& token = pointer.GetTokens()[i];
        schema = ChildSchema(*schema, {token.name, token.length});
    }
    return schema;
}

std::string Explain(const rapidjson::Value& source, const SchemaDocument& compiled,
                    const rapidjson::Value& document, const SchemaPointer& prefix);

// What a validator found wrong, given the schema source it was compiled from.
std::string Describe(const rapidjson::Value& source, const SchemaValidator& validator,
                     const rapidjson::Value& document, const SchemaPointer& prefix) {
    const char* const keyword_text = validator.GetInvalidSchemaKeyword();
    const std::string_view keyword = keyword_text != nullptr ? keyword_text : "invalid";
    const SchemaPointer at = [&] {
        SchemaPointer full = prefix;
        const auto relative = validator.GetInvalidDocumentPointer();
        for (std::size_t i = 0; i < relative.GetTokenCount(); ++i) {
            full = full.Append(relative.GetTokens()[i]);
        }
        return full;
    }();
    const rapidjson::Value* value = validator.GetInvalidDocumentPointer().Get(document);
    const rapidjson::Value* failed_schema = validator.GetInvalidSchemaPointer().Get(source);

    if (keyword == "patternProperties" && value != nullptr) {
        // RapidJSON only says that some pattern's schema failed; validate the value against the
        // matching one alone to learn which keyword it broke.
        const auto relative = validator.GetInvalidDocumentPointer();
        const rapidjson::Value* schema = SchemaAt(source, relative);
        if (schema != nullptr) {
            const SchemaDocument single(*schema);
            return Explain(*schema, single, *value, at);
        }
    }
    if (keyword == "not" && failed_schema != nullptr) {
        // Our stand-in for "additionalProperties": false (see WorkAroundPatternPropertiesBug).
        const auto pointer = validator.GetInvalidSchemaPointer();
        const auto count = pointer.GetTokenCount();
        if (count > 0 &&
            std::string_view(pointer.GetTokens()[count - 1].name,
                             pointer.GetTokens()[count - 1].length) == "additionalProperties") {
            return fmt::format("{}: additionalProperties (unknown field)", PointerText(at));
        }
    }
    if (keyword == "additionalProperties") {
        return fmt::format("{}: additionalProperties (unknown field)", PointerText(at));
    }
    if (keyword == "required" && failed_schema != nullptr && value != nullptr &&
        value->IsObject()) {
        const auto required = failed_schema->FindMember("required");
        if (required != failed_schema->MemberEnd() && required->value.IsArray()) {
            for (const auto& name : required->value.GetArray()) {
                if (name.IsString() && !value->HasMember(name)) {
                    return fmt::format("{}: required (missing \"{}\")", PointerText(at),
                                       Printable(AsView(name)));
                }
            }
        }
    }
    if (failed_schema != nullptr && failed_schema->IsObject()) {
        const auto limit = failed_schema->FindMember(keyword.data());
        if (limit != failed_schema->MemberEnd()) {
            return fmt::format("{}: {} {}", PointerText(at), keyword, Compact(limit->value));
        }
    }
    return fmt::format("{}: {}", PointerText(at), keyword);
}

std::string Explain(const rapidjson::Value& source, const SchemaDocument& compiled,
                    const rapidjson::Value& document, const SchemaPointer& prefix) {
    SchemaValidator validator(compiled);
    if (document.Accept(validator)) return fmt::format("{}: invalid", PointerText(prefix));
    return Describe(source, validator, document, prefix);
}

}  // namespace

SchemaId SchemaFor(EventType type) {
    switch (type) {
        case EventType::kOrderPlaced:
            return SchemaId::kOrderPlaced;
        case EventType::kInventoryReserved:
            return SchemaId::kInventoryReserved;
        case EventType::kInventoryRejected:
            return SchemaId::kInventoryRejected;
        case EventType::kNotificationSent:
            return SchemaId::kNotificationSent;
    }
    return SchemaId::kOrderPlaced;
}

const SchemaDocument& Compiled(SchemaId id) { return *Schemas().Get(id).compiled; }

std::expected<void, DecodeError> ValidateAgainst(SchemaId id, const rapidjson::Value& document) {
    const auto& schema = Schemas().Get(id);
    SchemaValidator validator(*schema.compiled);
    if (document.Accept(validator)) return {};
    return std::unexpected(DecodeError{DecodeError::Kind::kSchemaViolation,
                                       Describe(schema.source, validator, document, {})});
}

}  // namespace orderflow::events::impl
