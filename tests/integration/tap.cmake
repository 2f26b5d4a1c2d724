# tap: `healbus tap` against the real healbus-broker on free loopback ports.
hb_test(test_tap
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tap.c
        LIBS PkgConfig::ZMQ LABELS integration)
