// Internal to orderflow_events: the one place RapidJSON is configured and included, so every
// translation unit of the library sees the same schema-validator settings.
#pragma once

// RapidJSON 1.1's own regex engine keeps its match state inside the compiled schema (so two
// threads validating against one SchemaDocument race) and reads patterns only up to the first
// NUL (so "burger\u0000!" would match ^[A-Za-z0-9_.-]+$). std::regex has neither flaw. Defining
// this macro, whatever its value, makes schema.h fall back to std::regex.
#define RAPIDJSON_SCHEMA_USE_INTERNALREGEX 0

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/pointer.h>
#include <rapidjson/reader.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#if !RAPIDJSON_SCHEMA_USE_STDREGEX
#error "orderflow_events needs RapidJSON's schema validator to use std::regex"
#endif

namespace orderflow::events::impl {

// Our own schema document type, so that the two members of RapidJSON's Schema specialised
// below apply to our schemas only. The allocator is CrtAllocator in all but name.
struct SchemaAllocator : rapidjson::CrtAllocator {};
using SchemaDocument = rapidjson::GenericSchemaDocument<rapidjson::Value, SchemaAllocator>;
using SchemaValidator = rapidjson::GenericSchemaValidator<SchemaDocument>;

}  // namespace orderflow::events::impl

// std::regex costs 350-500 ns per match of our patterns (FastPattern: 30-110 ns), four
// times per event on every publish and every consume. These specialisations (defined in
// fast_pattern_schema.cpp) compile each pattern a second time into a FastPattern when it is in that
// matcher's subset, and match with it; a pattern outside the subset keeps std::regex, and one
// std::regex cannot compile is still ignored as RapidJSON ignores it. Declared here, before any
// use, as C++ requires.
template <>
template <>
std::basic_regex<char>* rapidjson::internal::Schema<orderflow::events::impl::SchemaDocument>::
    CreatePattern<rapidjson::Value>(const rapidjson::Value& value);

template <>
bool rapidjson::internal::Schema<orderflow::events::impl::SchemaDocument>::IsPatternMatch(
    const std::basic_regex<char>* pattern, const char* str, rapidjson::SizeType length);
