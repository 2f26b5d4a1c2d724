# node runtime: a test-only role run in-process against two real brokers,
# and the healbus-node binary's exit codes, ready line and SIGTERM.
hb_test(test_node_runtime
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_runtime.c
        LIBS node_runtime
        LABELS integration)
add_dependencies(test_node_runtime healbus-node healbus-broker)
