# detector_speed: samples/s of the predictor's anomaly detector.
add_executable(detector_speed ${CMAKE_CURRENT_LIST_DIR}/detector_speed.c)
target_link_libraries(detector_speed PRIVATE bench_util node_predictor_detector
                      hb_warnings)
