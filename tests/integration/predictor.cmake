# predictor: the real broker and predictor node with an in-process
# libhealbus agent whose error rate climbs.
hb_test(test_predictor
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_predictor.c
        LIBS PkgConfig::JANSSON PkgConfig::ZMQ LABELS integration)
add_dependencies(test_predictor healbus-broker healbus-node)
# predictor act = true: its heal request, the real healer's fix, applied by
# an in-process libhealbus agent before the failure.
hb_test(test_predictor_act
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_predictor_act.c
        LIBS PkgConfig::ZMQ LABELS integration)
add_dependencies(test_predictor_act healbus-broker healbus-node)
