# bench/publish_cost: caller-thread cost of hb_agent_error/metric against a
# bare encode + zmq_send of the same message.
add_executable(publish_cost ${CMAKE_CURRENT_LIST_DIR}/publish_cost.c)
target_link_libraries(publish_cost PRIVATE bench_util hb_core hb_warnings)
