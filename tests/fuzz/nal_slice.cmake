# libFuzzer target for the slice header parser (transcoder/src/nal_slice.c;
# configure with CC=clang -DCIRRUS_FUZZ=ON).  Included from
# transcoder/CMakeLists.txt; seeds in tests/fuzz/seeds/nal_slice (copied:
# libFuzzer writes into its corpus folder).
set(_fuzz_dir ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(CIRRUS_FUZZ_SECONDS 20 CACHE STRING "seconds per fuzz target in ctest")
add_executable(fuzz_nal_slice ${_fuzz_dir}/fuzz_nal_slice.c
    ${CMAKE_SOURCE_DIR}/transcoder/src/nal_slice.c)
target_include_directories(fuzz_nal_slice PRIVATE
    ${CMAKE_SOURCE_DIR}/transcoder/src ${CMAKE_SOURCE_DIR}/common/include)
target_compile_options(fuzz_nal_slice PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
target_link_options(fuzz_nal_slice PRIVATE -fsanitize=fuzzer,address,undefined)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_nal_slice)
file(COPY ${_fuzz_dir}/seeds/nal_slice/ DESTINATION
    ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_nal_slice)
add_test(NAME fuzz.fuzz_nal_slice
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
        $<TARGET_FILE:fuzz_nal_slice> -max_total_time=${CIRRUS_FUZZ_SECONDS}
        -rss_limit_mb=1024 -max_len=4096 ${CMAKE_BINARY_DIR}/fuzz-corpus/fuzz_nal_slice)
set_tests_properties(fuzz.fuzz_nal_slice PROPERTIES LABELS fuzz TIMEOUT 600)
