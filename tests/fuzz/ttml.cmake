# libFuzzer target for the TTML parser (transcoder/src/ttml.c; configure with
# CC=clang -DCIRRUS_FUZZ=ON).  Included from transcoder/CMakeLists.txt; seeds
# in tests/fuzz/seeds/ttml (copied: libFuzzer writes into its corpus folder).
set(_fuzz_dir ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(CIRRUS_FUZZ_SECONDS 20 CACHE STRING "seconds per fuzz target in ctest")
add_executable(fuzz_ttml ${_fuzz_dir}/fuzz_ttml.c
    ${CMAKE_SOURCE_DIR}/transcoder/src/ttml.c)
target_include_directories(fuzz_ttml PRIVATE ${CMAKE_SOURCE_DIR}/transcoder/src)
target_compile_options(fuzz_ttml PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
target_link_options(fuzz_ttml PRIVATE -fsanitize=fuzzer,address,undefined)
target_link_libraries(fuzz_ttml PRIVATE PkgConfig::LIBXML2 Threads::Threads m)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_ttml)
file(COPY ${_fuzz_dir}/seeds/ttml/ DESTINATION
    ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_ttml)
add_test(NAME fuzz.fuzz_ttml
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
        $<TARGET_FILE:fuzz_ttml> -max_total_time=${CIRRUS_FUZZ_SECONDS}
        -rss_limit_mb=1024 -max_len=65536 ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_ttml)
set_tests_properties(fuzz.fuzz_ttml PROPERTIES LABELS fuzz TIMEOUT 600)
