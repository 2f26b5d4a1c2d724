/*  node_store.c - crash-safe whole files in a node's data directory.

    Every operation goes through a descriptor of the directory (openat,
    renameat), so a name can never escape it and the directory we fsync is
    the one the rename happened in.  A write lands in ".hbtmp.<name>" first;
    names starting with that prefix are refused, and leftovers from a
    killed writer are removed when the store opens.

    One process at a time owns a directory: two nodes writing the same
    files would undo each other's work (and, with the default id, two
    nodes of a role on one host would share it).  The lock is a POSIX
    record lock on NODE_STORE_LOCK: the kernel drops it when the owner
    dies, even by SIGKILL, and children forked to write files in the
    background do not inherit it, so a restarted node never finds a stale
    lock. */

#include "node_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_STORE_TMP_PREFIX ".hbtmp."
#define NODE_STORE_NAME_MAX (NAME_MAX - (sizeof NODE_STORE_TMP_PREFIX - 1))
#define NODE_STORE_LOCK ".hblock"

struct node_store {
    char *dir;     // owned: absolute path
    int dir_fd;    // owned
    int lock_fd;   // owned: holds the directory's lock while open
    hb_log_t *log; // borrowed from the caller
};

//  mkdir -p with mode 0700 for the directories we create.
static int
s_mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

//  Remove ".hbtmp.*" files a writer killed mid-write left behind.
static void
s_remove_stale(node_store_t *self)
{
    int fd = dup(self->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        hb_log_warn(self->log, "store: listing %s: %s", self->dir,
                    strerror(errno));
        return;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, NODE_STORE_TMP_PREFIX,
                    sizeof NODE_STORE_TMP_PREFIX - 1) != 0)
            continue;
        if (unlinkat(self->dir_fd, e->d_name, 0) == 0)
            hb_log_info(self->log,
                        "store: removed %s/%s left by an interrupted write",
                        self->dir, e->d_name);
        else
            hb_log_warn(self->log, "store: removing %s/%s: %s", self->dir,
                        e->d_name, strerror(errno));
    }
    closedir(d);
}

//  Take the directory's lock, or say who holds it.  Before any stale
//  temporary file is removed: it may be the holder's write in progress.
static bool
s_lock(node_store_t *self)
{
    self->lock_fd = openat(self->dir_fd, NODE_STORE_LOCK,
                           O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (self->lock_fd < 0) {
        hb_log_error(self->log, "store: opening %s/%s: %s", self->dir,
                     NODE_STORE_LOCK, strerror(errno));
        return false;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(self->lock_fd, F_SETLK, &fl) == 0)
        return true;
    if (errno != EACCES && errno != EAGAIN) {
        hb_log_error(self->log, "store: locking %s: %s", self->dir,
                     strerror(errno));
        return false;
    }
    struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    long pid = fcntl(self->lock_fd, F_GETLK, &who) == 0 ? who.l_pid : 0;
    hb_log_error(self->log,
                 "store: %s is in use by another process (pid %ld); give "
                 "each node its own --id or --data-dir",
                 self->dir, pid);
    return false;
}

node_store_t *
node_store_new(const char *dir, hb_log_t *log)
{
    if (!dir || !*dir)
        return NULL;
    if (s_mkdir_parents(dir) != 0) {
        hb_log_error(log, "store: creating %s: %s", dir, strerror(errno));
        return NULL;
    }
    node_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->log = log;
    self->lock_fd = -1;
    self->dir = realpath(dir, NULL);
    self->dir_fd =
        self->dir ? open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (self->dir_fd < 0) {
        hb_log_error(log, "store: opening %s: %s", dir, strerror(errno));
        free(self->dir);
        free(self);
        return NULL;
    }
    if (!s_lock(self)) {
        node_store_destroy(&self);
        return NULL;
    }
    s_remove_stale(self);
    return self;
}

void
node_store_destroy(node_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_store_t *self = *self_p;
    if (self->lock_fd >= 0)
        close(self->lock_fd); // releases the lock
    close(self->dir_fd);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

const char *
node_store_dir(const node_store_t *self)
{
    return self->dir;
}

//  A name is one plain component of the directory, not our temp prefix.
static bool
s_name_ok(const char *name)
{
    if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return false;
    if (strlen(name) > NODE_STORE_NAME_MAX ||
        strcmp(name, NODE_STORE_LOCK) == 0)
        return false;
    return strncmp(name, NODE_STORE_TMP_PREFIX,
                   sizeof NODE_STORE_TMP_PREFIX - 1) != 0;
}

static int
s_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

hb_err_t
node_store_write(node_store_t *self, const char *name, const void *buf,
                 size_t len)
{
    if (!self || !s_name_ok(name) || (!buf && len))
        return HB_EINVAL;
    char tmp[NAME_MAX + 1];
    snprintf(tmp, sizeof tmp, "%s%s", NODE_STORE_TMP_PREFIX, name);
    hb_err_t rc = HB_EIO;
    int fd = openat(self->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    if (fd < 0 || s_write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        hb_log_warn(self->log, "store: writing %s/%s: %s", self->dir, tmp,
                    strerror(errno));
        goto out;
    }
    // close() can report a deferred write error (NFS): check it too.
    int closed = close(fd);
    fd = -1;
    if (closed != 0 || renameat(self->dir_fd, tmp, self->dir_fd, name) != 0) {
        hb_log_warn(self->log, "store: replacing %s/%s: %s", self->dir, name,
                    strerror(errno));
        goto out;
    }
    // Without the directory fsync the rename may not survive a power loss.
    if (fsync(self->dir_fd) != 0) {
        hb_log_warn(self->log, "store: syncing %s: %s", self->dir,
                    strerror(errno));
        return HB_EIO; // the new file is in place; only durability is unsure
    }
    return HB_OK;
out:
    if (fd >= 0)
        close(fd);
    unlinkat(self->dir_fd, tmp, 0);
    return rc;
}

//  Read exactly st_size bytes (a rename-replaced file does not change under
//  us), but stop at `max` + 1 so a file growing in place is still bounded.
static hb_err_t
s_read_fd(node_store_t *self, int fd, const char *name, size_t max,
          char **buf_p, size_t *len_p)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        hb_log_warn(self->log, "store: %s/%s: not a readable regular file",
                    self->dir, name);
        return HB_EIO;
    }
    if ((uint64_t)st.st_size > max)
        return HB_ETOOBIG;
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf)
        return HB_ENOMEM;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            hb_log_warn(self->log, "store: reading %s/%s: %s", self->dir, name,
                        strerror(errno));
            free(buf);
            return HB_EIO;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            char probe;
            ssize_t more = read(fd, &probe, 1);
            if (more > 0) { // grew while we read: bigger than we planned
                free(buf);
                return HB_ETOOBIG;
            }
            break;
        }
    }
    buf[len] = '\0';
    *buf_p = buf;
    if (len_p)
        *len_p = len;
    return HB_OK;
}

hb_err_t
node_store_read(node_store_t *self, const char *name, size_t max, char **buf_p,
                size_t *len_p)
{
    if (!self || !buf_p || !s_name_ok(name))
        return HB_EINVAL;
    *buf_p = NULL;
    if (len_p)
        *len_p = 0;
    int fd = openat(self->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return HB_ENOTFOUND;
        hb_log_warn(self->log, "store: opening %s/%s: %s", self->dir, name,
                    strerror(errno));
        return HB_EIO;
    }
    hb_err_t rc = s_read_fd(self, fd, name, max, buf_p, len_p);
    close(fd);
    return rc;
}
