/*  dl_table.h - loading a CSV file into a table of numeric columns.

    The first column is a timestamp, the others numbers.  Two loaders (a
    whole-file in-memory one with a size limit, and a streaming one) and
    two date parsers (strict ISO, fuzzy) are the example's failure modes:
    the in-memory loader refuses big files (FileTooLargeError) and the
    strict parser refuses other date layouts (DateFormatError).  Both are
    real code paths that a healer switches through the agent's knobs. */

#ifndef DL_TABLE_H
#define DL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DL_MAX_COLS 16
#define DL_MAX_ROWS 2000000
#define DL_INMEM_LIMIT (256 * 1024) // bytes the in-memory loader accepts
#define DL_MAX_LINE 4096

typedef struct {
    size_t rows;
    size_t cols;             // numeric columns (timestamp excluded)
    double *values;          // owned; rows * cols, row-major
    int64_t *stamps;         // owned; seconds since the epoch per row
    size_t cap;
} dl_table_t;

typedef struct {
    bool streaming;          // knob parser: memory | streaming
    bool fuzzy_dates;        // knob date_parser: strict | fuzzy
} dl_load_opts_t;

/*  Load `path`.  On failure returns false with an error class (static)
    and a message in `why`. */
bool dl_table_load(dl_table_t *table, const char *path,
                   const dl_load_opts_t *opts, const char **error_class,
                   char *why, size_t why_len);
void dl_table_free(dl_table_t *table);

/*  Parse a timestamp: strict accepts only "YYYY-MM-DD HH:MM:SS"; fuzzy
    also "YYYY-MM-DDTHH:MM:SS[Z]", "YYYY/MM/DD HH:MM[:SS]",
    "DD.MM.YYYY HH:MM[:SS]" and epoch seconds. */
bool dl_table_parse_date(const char *text, bool fuzzy, int64_t *epoch_s);

#endif
