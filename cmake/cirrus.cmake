# Shared build settings: warnings, sanitizers, and the rule that pure
# libraries never link the event-loop or network libraries.

add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter)
add_compile_definitions(_GNU_SOURCE)
if(CIRRUS_WERROR)
    add_compile_options(-Werror)
endif()

if(CIRRUS_SANITIZE AND CIRRUS_TSAN)
    message(FATAL_ERROR "CIRRUS_SANITIZE and CIRRUS_TSAN are exclusive")
endif()
if(CIRRUS_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()
if(CIRRUS_TSAN)
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
endif()

# cir_check_no_link(target pattern rule): fail the configure step if target
# links a library matching pattern, directly or through its public link
# interface.
function(cir_check_no_link target pattern rule)
    get_target_property(libs ${target} LINK_LIBRARIES)
    get_target_property(ilibs ${target} INTERFACE_LINK_LIBRARIES)
    foreach(lib IN LISTS libs ilibs)
        if(lib MATCHES "${pattern}")
            message(FATAL_ERROR "${target} ${rule} and must not link ${lib}")
        endif()
    endforeach()
endfunction()

# cir_check_pure(target): a pure library links no nginx, libuv or libcurl.
function(cir_check_pure target)
    cir_check_no_link(${target} "(uv|curl|nginx|ngx)" "is a pure library")
endfunction()

# cir_check_codec_free(target): common/ links no FFmpeg (the codecs and the
# S3 AVIOContext are the transcoder's).
function(cir_check_codec_free target)
    cir_check_no_link(${target}
        "(LIBAV|LAVF|avformat|avcodec|avutil|avfilter|swscale|swresample)"
        "is in common/")
endfunction()
