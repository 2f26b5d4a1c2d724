# heal_latency: heal request -> fix -> fix result through a real broker and
# healer, against the raw PUB -> zmq_proxy -> SUB round trip, p50/p99/p99.9.
add_executable(heal_latency ${CMAKE_CURRENT_LIST_DIR}/heal_latency.c)
target_link_libraries(heal_latency PRIVATE bench_util hb_core hb_warnings)
add_dependencies(heal_latency healbus-broker healbus-node)
