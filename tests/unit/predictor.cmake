# predictor: the online anomaly detector and `healbus predict`.
hb_test(test_predictor_detector
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_predictor_detector.c
        LIBS node_predictor_detector LABELS unit)
hb_test(test_cli_predict
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_predict.c
                ${CMAKE_SOURCE_DIR}/cli/cli_predict.c
        LIBS node_predictor_detector LABELS unit)
