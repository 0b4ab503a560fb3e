# The desktop installation: the binary (app/), its launcher, icon, AppStream metadata and README,
# and a Debian package of them: `cmake --install build --prefix P`, `cd build && cpack -G DEB`.
include(GNUInstallDirs)
set(STEPSCOPE_APP_ID io.github.stepscope.Stepscope)
# AppStream wants a component id in lower case; the desktop entry keeps its name (its launchable).
set(STEPSCOPE_COMPONENT_ID io.github.stepscope.stepscope)
install(FILES resources/${STEPSCOPE_APP_ID}.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
install(FILES resources/${STEPSCOPE_COMPONENT_ID}.metainfo.xml DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
install(FILES resources/icons/stepscope.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
install(FILES resources/icons/stepscope.png DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/64x64/apps)
# Help > Usage opens this README.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/stepscope)
# Debian policy 12.5: every package carries its copyright file (machine-readable, DEP-5).
install(FILES resources/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/stepscope)
# File > Open demo model lists these (ui/demo_models.cpp looks beside bin/).
install(DIRECTORY resources/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/stepscope/models FILES_MATCHING PATTERN "*.safetensors")

set(CPACK_PACKAGE_NAME stepscope)
set(CPACK_PACKAGE_VENDOR "Stepscope")
set(CPACK_PACKAGE_CONTACT "Stepscope maintainers <stepscope@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Explore recurrent transformers one step at a time")
set(CPACK_PACKAGE_DESCRIPTION
    "Stepscope steps the recurrent encoders and decoders of fast-transformers one sequence element at a time and plots their outputs, attention states and weights.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/idiap/fast-transformers")
# dpkg-shlibdeps names the libraries the binary links (Qt 6, QCustomPlot, oneTBB); the window
# system plugins are loaded at run time, so they are named here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins")
set(CPACK_GENERATOR DEB)
include(CPack)
