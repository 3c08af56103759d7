# libFuzzer targets for the origin's and common's parsers (configure with
# CC=clang -DCIRRUS_FUZZ=ON; `ctest -L fuzz` runs each for
# CIRRUS_FUZZ_SECONDS).  The libraries are compiled into each target so the
# fuzzer sees their coverage.
set(_fuzz_dir ${CMAKE_SOURCE_DIR}/tests/fuzz)
file(GLOB _origin_src ${CMAKE_SOURCE_DIR}/origin/src/*.c)
file(GLOB _common_src ${CMAKE_SOURCE_DIR}/common/src/*.c)
foreach(name fuzz_live_index fuzz_origin_request fuzz_preset)
    add_executable(${name} ${_fuzz_dir}/${name}.c ${_origin_src} ${_common_src})
    # common/src/cli.c includes the generated cir_build.h (git describe)
    target_include_directories(${name} PRIVATE
        ${CMAKE_SOURCE_DIR}/origin/include ${CMAKE_SOURCE_DIR}/common/include
        ${CMAKE_BINARY_DIR}/common/generated)
    add_dependencies(${name} cirrus_build_header)
    # what cirrus_common is compiled with (common/CMakeLists.txt)
    target_compile_definitions(${name} PRIVATE
        CIRRUS_PRESETS_DEFAULT="${CMAKE_SOURCE_DIR}/presets"
        CIRRUS_VERSION="${PROJECT_VERSION}")
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE PkgConfig::JANSSON PkgConfig::OPENSSL
        Threads::Threads m)
    add_test(NAME fuzz.${name}
        COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
            $<TARGET_FILE:${name}> -max_total_time=${CIRRUS_FUZZ_SECONDS}
            -rss_limit_mb=1024 ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 600)
endforeach()
