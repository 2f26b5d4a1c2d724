# Agent library unit tests: retry policy, agent publishing, knobs and fixes.
hb_test(test_hb_retry SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hb_retry.c
        LABELS unit)
hb_test(test_hb_agent SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hb_agent.c
        LABELS unit)
# The shared library exports nothing but the hb_* names healbus.h declares,
# and an installed copy builds a program through pkg-config alone.
add_test(NAME test_symbols
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_symbols.sh
                 $<TARGET_FILE:healbus>
                 ${CMAKE_CURRENT_LIST_DIR}/../../agent/include/healbus.h)
set_tests_properties(test_symbols PROPERTIES LABELS unit TIMEOUT 60)
# (Not under the sanitizers: an uninstrumented program cannot load an
# instrumented library.)
if(NOT HB_SANITIZE)
    add_test(NAME test_install
             COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_install.sh
                     ${CMAKE_BINARY_DIR} ${CMAKE_C_COMPILER})
    set_tests_properties(test_install PROPERTIES LABELS unit TIMEOUT 120)
endif()
