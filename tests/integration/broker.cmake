# broker: the real healbus-broker on free loopback ports.
hb_test(test_broker
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker.c
        LABELS integration)
add_dependencies(test_broker healbus-broker)
