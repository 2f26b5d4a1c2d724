# healer_templates: the healer's online log-template miner.
hb_test(test_healer_templates
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_healer_templates.c
        LIBS node_healer_templates LABELS unit)
