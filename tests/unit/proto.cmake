# proto: the wire codec (round trips, every malformation, fuzz loops).
hb_test(test_proto_codec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_proto_codec.c
        LABELS unit)
