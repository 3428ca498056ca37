# Install rules: headers, the shared and static library, a CMake package
# (find_package(corio CONFIG) -> corio::corio, corio::corio_static) and
# corio.pc for pkg-config.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS corio_shared corio_static EXPORT corioTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(CORIO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/corio)
install(EXPORT corioTargets NAMESPACE corio:: DESTINATION ${CORIO_CMAKE_DIR})
configure_package_config_file(cmake/corioConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/corioConfig.cmake
  INSTALL_DESTINATION ${CORIO_CMAKE_DIR})
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/corioConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/corioConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/corioConfigVersion.cmake
        DESTINATION ${CORIO_CMAKE_DIR})

# Relocatable: the prefix is found from where the .pc file sits.
file(RELATIVE_PATH CORIO_PC_TO_PREFIX
  ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
configure_file(cmake/corio.pc.in ${CMAKE_CURRENT_BINARY_DIR}/corio.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/corio.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
