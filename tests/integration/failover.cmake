# failover: two real healbus-brokers, one SIGKILLed mid-test; an in-process
# agent and a healbus-node healer given both lose nothing and still heal.
hb_test(test_failover
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_failover.c
        LIBS PkgConfig::ZMQ LABELS integration)
add_dependencies(test_failover healbus-broker healbus-node)
