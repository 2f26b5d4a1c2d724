/*  node_store.h - crash-safe whole-file persistence in a data directory.

    A write goes to a temporary file, is fsync'ed, renamed over the old file
    and the directory is fsync'ed, so after a SIGKILL or power loss a file
    is either the old or the new version, never torn.  Reads are bounded. */

#ifndef NODE_STORE_H
#define NODE_STORE_H

#include "hb_log.h"
#include "healbus.h"
#include <stddef.h>

typedef struct node_store node_store_t;

/*  Open (creating it, mode 0700, parents too) the directory `dir` and
    lock it for this process (a record lock on the file ".hblock", released
    by destroy or by the process's death; not inherited by fork).  Stale
    temporary files from an interrupted write are removed.  NULL on
    failure, with the reason logged; also when another process holds the
    directory. */
node_store_t *node_store_new(const char *dir, hb_log_t *log);
void node_store_destroy(node_store_t **self_p);
const char *node_store_dir(const node_store_t *self);

/*  Atomically replace file `name` (no '/' allowed) with buf[0..len). */
hb_err_t node_store_write(node_store_t *self, const char *name,
                          const void *buf, size_t len);

/*  Read file `name` whole into a new NUL-terminated buffer (caller frees)
    if it is at most `max` bytes.  HB_ENOTFOUND when absent, HB_ETOOBIG
    when larger than `max`, HB_EIO on read errors. */
hb_err_t node_store_read(node_store_t *self, const char *name, size_t max,
                         char **buf_p, size_t *len_p);

#endif
