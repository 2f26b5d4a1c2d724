# node runtime: the crash-safe store (and JSON files), config parsing and
# validation, the duplicate filter and rendezvous membership.
foreach(t test_node_store test_node_config test_node_dedupe test_node_members)
    hb_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c LIBS node_runtime
            LABELS unit)
endforeach()
