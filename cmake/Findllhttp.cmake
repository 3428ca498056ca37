# Findllhttp: provides the target llhttp::llhttp.
#
# An installed llhttp library is used when there is one (pkg-config
# `libllhttp`, or llhttp's own CMake package); otherwise the C sources that
# Debian's node-llhttp ships (/usr/share/llhttp/*.c and
# /usr/share/include/llhttp/llhttp.h) are compiled into a static library.
include(FindPackageHandleStandardArgs)

if(TARGET llhttp::llhttp)
  set(llhttp_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(LLHTTP_PC QUIET IMPORTED_TARGET libllhttp)
endif()
if(LLHTTP_PC_FOUND)
  add_library(llhttp::llhttp INTERFACE IMPORTED)
  target_link_libraries(llhttp::llhttp INTERFACE PkgConfig::LLHTTP_PC)
  set(llhttp_FOUND TRUE)
  return()
endif()

find_package(llhttp CONFIG QUIET)
if(llhttp_FOUND AND TARGET llhttp::llhttp_static)
  add_library(llhttp::llhttp ALIAS llhttp::llhttp_static)
  return()
elseif(llhttp_FOUND AND TARGET llhttp::llhttp)
  return()
endif()

find_path(LLHTTP_INCLUDE_DIR llhttp.h
  PATHS /usr/share/include/llhttp /usr/include/llhttp /usr/local/include)
find_file(LLHTTP_SOURCE_LLHTTP llhttp.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
find_file(LLHTTP_SOURCE_API api.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
find_file(LLHTTP_SOURCE_HTTP http.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
find_package_handle_standard_args(llhttp
  REQUIRED_VARS LLHTTP_INCLUDE_DIR LLHTTP_SOURCE_LLHTTP LLHTTP_SOURCE_API
                LLHTTP_SOURCE_HTTP
  REASON_FAILURE_MESSAGE "install Debian's node-llhttp")
if(llhttp_FOUND)
  # An object library: its objects go into libcorio itself (both
  # flavours), so that installed corio needs no llhttp at all.
  add_library(corio_llhttp OBJECT ${LLHTTP_SOURCE_LLHTTP} ${LLHTTP_SOURCE_API}
                                  ${LLHTTP_SOURCE_HTTP})
  set_target_properties(corio_llhttp PROPERTIES C_VISIBILITY_PRESET hidden)
  target_include_directories(corio_llhttp SYSTEM PUBLIC
    $<BUILD_INTERFACE:${LLHTTP_INCLUDE_DIR}>)
  set_target_properties(corio_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_compile_options(corio_llhttp PRIVATE -w)
  add_library(llhttp::llhttp ALIAS corio_llhttp)
endif()
