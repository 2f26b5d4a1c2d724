# examples: the DataLoader agent as an operator runs it.
hb_test(test_dataloader
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dataloader.c
        LABELS integration)
add_dependencies(test_dataloader healbus-dataloader healbus-broker)
