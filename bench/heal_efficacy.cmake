# heal_efficacy: recovered share and fixes tried per recovery under retries
# only, catalog order, and the learning healer (in-process, deterministic).
add_executable(heal_efficacy ${CMAKE_CURRENT_LIST_DIR}/heal_efficacy.c)
target_link_libraries(heal_efficacy PRIVATE bench_util node_healer hb_warnings)
