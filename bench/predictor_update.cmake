# predictor_update: samples/s and bytes per series of the predictor role.
add_executable(predictor_update ${CMAKE_CURRENT_LIST_DIR}/predictor_update.c)
target_link_libraries(predictor_update PRIVATE node_predictor hb_warnings)
