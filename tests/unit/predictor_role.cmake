# predictor role: series, trend, alert, record, advice, journal, engine.
foreach(part series trend alert record advice journal engine)
    hb_test(test_predictor_${part}
            SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_predictor_${part}.c
            LIBS node_predictor LABELS unit)
endforeach()
