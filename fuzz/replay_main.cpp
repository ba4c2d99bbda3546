// The corpus as a regression test in the ordinary (gcc) build: each file or directory named
// on the command line goes once through the target's LLVMFuzzerTestOneInput, as libFuzzer
// would run it. A broken invariant aborts (the target's Fail), which fails the ctest; the
// coverage-guided search itself needs clang and scripts/fuzz.sh.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

size_t Replay(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path path(argv[i]);
        if (std::filesystem::is_directory(path)) {
            for (const auto& entry : std::filesystem::directory_iterator(path)) {
                if (entry.is_regular_file()) inputs += Replay(entry.path());
            }
        } else {
            inputs += Replay(path);
        }
    }
    if (inputs == 0) {
        std::fprintf(stderr, "no input replayed: name a corpus file or directory\n");
        return 2;
    }
    std::printf("%zu inputs replayed, no invariant broken\n", inputs);
    return 0;
}
