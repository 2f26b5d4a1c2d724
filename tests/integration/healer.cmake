# healer: the real broker and healer node with an in-process libhealbus agent.
hb_test(test_healer
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_healer.c
        LIBS PkgConfig::JANSSON LABELS integration)
add_dependencies(test_healer healbus-broker healbus-node)
