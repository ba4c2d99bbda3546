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
