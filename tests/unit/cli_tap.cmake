# cli: the tap's helpers (sequence tracking, JSON output), built from the
# cli sources directly since they live in the `healbus` executable.
hb_test(test_cli_seqtrack
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_seqtrack.c
                ${CMAKE_SOURCE_DIR}/cli/cli_seqtrack.c
        LABELS unit)
target_include_directories(test_cli_seqtrack PRIVATE ${CMAKE_SOURCE_DIR}/cli)
hb_test(test_cli_json
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_json.c
                ${CMAKE_SOURCE_DIR}/cli/cli_json.c
        LABELS unit)
target_include_directories(test_cli_json PRIVATE ${CMAKE_SOURCE_DIR}/cli)
