# predictor: the real broker and predictor node with an in-process
# libhealbus agent whose error rate climbs.
hb_test(test_predictor
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_predictor.c
        LIBS PkgConfig::JANSSON PkgConfig::ZMQ LABELS integration)
add_dependencies(test_predictor healbus-broker healbus-node)
