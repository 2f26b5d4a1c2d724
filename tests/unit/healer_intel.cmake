# healer_intel: counts, templates, bursts, trends, sharing, caps, hostile input.
hb_test(test_healer_intel
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_healer_intel.c
        LIBS node_healer LABELS unit)
