# Agent library against the real healbus-broker on free loopback ports.
hb_test(test_agent_bus SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agent_bus.c
        LABELS integration)
hb_test(test_agent_heal SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agent_heal.c
        LABELS integration)
