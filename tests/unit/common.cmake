# common: the binaries' line logger.
hb_test(test_hb_log SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hb_log.c
        LABELS unit)
