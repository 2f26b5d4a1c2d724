/*  dl_inputs.h - the demo's input files, one per failure mode. */

#ifndef DL_INPUTS_H
#define DL_INPUTS_H

/*  Write into `dir` (created if missing):
      dates_mixed.csv   small; some rows use other date layouts
      big_series.csv    over the in-memory loader's 256 KiB limit
      wide_metrics.csv  three columns: the default batch overflows 64 KiB
      slow_series.csv   large enough that compute_stats misses 20 ms
      bad_rows.csv      a malformed row: no fix can heal it
    The content is deterministic.  Returns an exit code (0 ok, 1 error). */
int dl_inputs_make(const char *dir);

#endif
