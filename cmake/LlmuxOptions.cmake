# Warning flags, sanitizers and precompiled headers shared by every llmux target.

add_library(llmux_options INTERFACE)
target_compile_options(llmux_options INTERFACE -Wall -Wextra -Wpedantic)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 false positives inside Boost headers (DESIGN.md toolchain notes): Asio's awaitable
  # frames trip -Wmismatched-new-delete; sanitizer builds trip -Wmaybe-uninitialized.
  target_compile_options(llmux_options INTERFACE -Wno-mismatched-new-delete)
  if(LLMUX_SANITIZE)
    target_compile_options(llmux_options INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()
target_compile_definitions(llmux_options INTERFACE
  BOOST_ASIO_NO_DEPRECATED
)

if(LLMUX_SANITIZE)
  target_compile_options(llmux_options INTERFACE
    -fsanitize=${LLMUX_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(llmux_options INTERFACE -fsanitize=${LLMUX_SANITIZE})
  # Lets timing-sensitive tests widen their bounds for the slower instrumented code.
  target_compile_definitions(llmux_options INTERFACE LLMUX_SANITIZED=1)
endif()

# llmux_target_pch(target header...) — precompiled headers when enabled.
function(llmux_target_pch target)
  if(LLMUX_PCH)
    target_precompile_headers(${target} PRIVATE ${ARGN})
  endif()
endfunction()
