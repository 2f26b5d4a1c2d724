# interop: a Python publisher written from PROTOCOL.md, decoded by the C codec.
hb_test(test_interop SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_interop.c
        LABELS interop)
