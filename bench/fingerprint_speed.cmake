# fingerprint_speed: lines/s of the healer's template miner over Loghub 2k.
add_executable(fingerprint_speed ${CMAKE_CURRENT_LIST_DIR}/fingerprint_speed.c)
target_compile_definitions(fingerprint_speed PRIVATE
    FINGERPRINT_DATA_DIR="${CMAKE_SOURCE_DIR}/../shared/data/loghub2k")
target_link_libraries(fingerprint_speed PRIVATE bench_util node_healer_templates
                      hb_warnings)
