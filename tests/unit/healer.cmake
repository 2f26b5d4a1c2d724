# healer: fix catalog parser, learning, orchestration state machine, journal.
foreach(t test_healer_catalog test_healer_learn test_healer_orch
          test_healer_journal)
    hb_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c LIBS node_healer
            LABELS unit)
endforeach()
