# bus_throughput: agent -> healbus-broker -> SUB against PUB -> zmq_proxy -> SUB.
add_executable(bus_throughput ${CMAKE_CURRENT_LIST_DIR}/bus_throughput.c)
target_link_libraries(bus_throughput PRIVATE bench_util hb_core hb_warnings)
add_dependencies(bus_throughput healbus-broker)
