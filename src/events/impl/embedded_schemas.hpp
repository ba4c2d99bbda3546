// Internal to orderflow_events: the texts of schemas/*.json, compiled into the library by
// embed_schemas.cmake so that binaries need no schema files at run time.
#pragma once

#include <span>
#include <string_view>

namespace orderflow::events::impl {

struct EmbeddedSchema {
    std::string_view name;  // file name, e.g. "order_placed.v1.json"
    std::string_view text;  // the file's content, verbatim
};

// Every schema file, sorted by name (generated code).
std::span<const EmbeddedSchema> EmbeddedSchemas();

}  // namespace orderflow::events::impl
