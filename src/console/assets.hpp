// The console's page, styles, scripts and Debian's Chart.js, built into the binary by
// embed_assets.cmake (src/console/web/*, /usr/share/javascript/chart.js/chart.min.js):
// the console needs no file at run time and loads nothing from another origin.
#pragma once

#include <span>
#include <string_view>

namespace orderflow::console {

struct Asset {
    std::string_view name;  // "index.html", "app.js", "chart.min.js", ...
    std::string_view content_type;
    std::string_view data;
};
std::span<const Asset> Assets();
const Asset* FindAsset(std::string_view name);

}  // namespace orderflow::console
