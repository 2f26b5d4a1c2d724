/*  test_node_store.c - node_store: round trips, exact error codes, stale
    temporary files, and the crash-safety promise checked by SIGKILLing a
    writer at random moments.  Also node_json (save/load, syntax errors
    with line and column). */

#include "node_json.h"
#include "node_store.h"
#include "test_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    hb_log_t *log;
    node_store_t *store;
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = test_proc_tmpdir();
    f->log = hb_log_new("store-test", stderr, HB_LOG_ERROR);
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/a/b/data", f->dir);
    f->store = node_store_new(sub, f->log);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    node_store_destroy(&f->store);
    node_store_destroy(&f->store); // second destroy is harmless
    hb_log_destroy(&f->log);
    test_proc_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
test_store_creates_parents_private(void **state)
{
    fixture_t *f = *state;
    struct stat st;
    assert_int_equal(stat(node_store_dir(f->store), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(node_store_dir(f->store)[0], '/'); // absolute
}

static void
test_store_round_trip(void **state)
{
    fixture_t *f = *state;
    const char text[] = "hello\0world"; // embedded NUL survives
    assert_int_equal(node_store_write(f->store, ".log.json", text, sizeof text),
                     HB_OK);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(node_store_read(f->store, ".log.json", 100, &buf, &len),
                     HB_OK);
    assert_int_equal(len, sizeof text);
    assert_memory_equal(buf, text, sizeof text);
    assert_int_equal(buf[len], '\0');
    free(buf);
    // Replace with something shorter: no tail of the old version remains.
    assert_int_equal(node_store_write(f->store, ".log.json", "x", 1), HB_OK);
    assert_int_equal(node_store_read(f->store, ".log.json", 100, &buf, &len),
                     HB_OK);
    assert_int_equal(len, 1);
    assert_string_equal(buf, "x");
    free(buf);
    // An empty file is a file.
    assert_int_equal(node_store_write(f->store, "empty", "", 0), HB_OK);
    assert_int_equal(node_store_read(f->store, "empty", 0, &buf, &len), HB_OK);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);
}

static void
test_store_read_missing_is_enotfound(void **state)
{
    fixture_t *f = *state;
    char *buf = (char *)1;
    size_t len = 7;
    assert_int_equal(node_store_read(f->store, "nope", 10, &buf, &len),
                     HB_ENOTFOUND);
    assert_null(buf);
    assert_int_equal(len, 0);
}

static void
test_store_read_over_max_is_etoobig(void **state)
{
    fixture_t *f = *state;
    char big[1000];
    memset(big, 'z', sizeof big);
    assert_int_equal(node_store_write(f->store, "big", big, sizeof big), HB_OK);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(node_store_read(f->store, "big", 999, &buf, &len),
                     HB_ETOOBIG);
    assert_null(buf);
    assert_int_equal(node_store_read(f->store, "big", 1000, &buf, &len), HB_OK);
    assert_int_equal(len, 1000);
    free(buf);
}

static void
test_store_rejects_bad_names(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {"",  "a/b",  "/etc/passwd", "..",
                         ".", "../x", ".hbtmp.x"};
    char *buf = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(node_store_write(f->store, bad[i], "x", 1), HB_EINVAL);
        assert_int_equal(node_store_read(f->store, bad[i], 10, &buf, NULL),
                         HB_EINVAL);
    }
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(node_store_write(f->store, longname, "x", 1), HB_EINVAL);
    assert_int_equal(node_store_write(f->store, NULL, "x", 1), HB_EINVAL);
}

static void
test_store_read_directory_is_eio(void **state)
{
    fixture_t *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/sub", node_store_dir(f->store));
    assert_int_equal(mkdir(path, 0700), 0);
    char *buf = NULL;
    assert_int_equal(node_store_read(f->store, "sub", 10, &buf, NULL), HB_EIO);
    // Writing over a directory fails too, and leaves no temp file.
    assert_int_equal(node_store_write(f->store, "sub", "x", 1), HB_EIO);
    snprintf(path, sizeof path, "%s/.hbtmp.sub", node_store_dir(f->store));
    assert_int_equal(access(path, F_OK), -1);
}

static void
test_store_open_removes_stale_temp_files(void **state)
{
    fixture_t *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/.hbtmp.state.json",
             node_store_dir(f->store));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("half a fi", fp);
    fclose(fp);
    assert_int_equal(node_store_write(f->store, "keep", "k", 1), HB_OK);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", node_store_dir(f->store));
    node_store_destroy(&f->store);
    f->store = node_store_new(dir, f->log);
    assert_non_null(f->store);
    assert_int_equal(access(path, F_OK), -1);
    char *buf = NULL;
    assert_int_equal(node_store_read(f->store, "keep", 10, &buf, NULL), HB_OK);
    assert_string_equal(buf, "k");
    free(buf);
}

static void
test_store_new_fails_on_a_file_path(void **state)
{
    fixture_t *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/plain", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(node_store_new(path, f->log));
    assert_null(node_store_new("", f->log));
}

/* -------------------------------------------- crash safety (SIGKILL) -- */

//  A version: "v=<n> len=<L>\n", L payload bytes derived from n, then
//  "sum=<hex>\n" over everything before it.  Torn files fail the check.
#define S_PAYLOAD (512 * 1024)

static uint32_t
s_sum(const char *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static size_t
s_make_version(char *buf, unsigned n)
{
    int head = sprintf(buf, "v=%u len=%d\n", n, S_PAYLOAD);
    for (size_t i = 0; i < S_PAYLOAD; i++)
        buf[head + i] = (char)('a' + (n + i) % 26);
    size_t body = (size_t)head + S_PAYLOAD;
    return body + (size_t)sprintf(buf + body, "sum=%08x\n", s_sum(buf, body));
}

//  Parse a file as one whole version; returns its number or -1 if torn.
static long
s_check_version(const char *buf, size_t len)
{
    unsigned n = 0;
    int plen = 0;
    int head = 0;
    if (sscanf(buf, "v=%u len=%d\n%n", &n, &plen, &head) != 2 || head == 0 ||
        plen != S_PAYLOAD)
        return -1;
    size_t body = (size_t)head + S_PAYLOAD;
    char trailer[32];
    if (len != body + 13)
        return -1;
    snprintf(trailer, sizeof trailer, "sum=%08x\n", s_sum(buf, body));
    if (memcmp(buf + body, trailer, 13) != 0)
        return -1;
    for (size_t i = 0; i < S_PAYLOAD; i++)
        if (buf[head + i] != (char)('a' + (n + i) % 26))
            return -1;
    return (long)n;
}

//  Child: write versions 1, 2, ... forever, reporting each completed one
//  on `fd` (one byte each), until killed.
static void
s_writer(const char *dir, int fd)
{
    node_store_t *store = node_store_new(dir, NULL);
    char *buf = malloc(S_PAYLOAD + 64);
    if (!store || !buf)
        _exit(3);
    for (unsigned n = 1;; n++) {
        size_t len = s_make_version(buf, n);
        if (node_store_write(store, "state", buf, len) != HB_OK)
            _exit(4);
        if (write(fd, "w", 1) != 1)
            _exit(5);
    }
}

static void
test_store_survives_sigkill_mid_write(void **state)
{
    fixture_t *f = *state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", node_store_dir(f->store));
    node_store_destroy(&f->store); // the writers need the directory's lock
    unsigned acked_total = 0;
    srand((unsigned)getpid());
    for (int iter = 0; iter < 12; iter++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            s_writer(dir, fds[1]);
        }
        close(fds[1]);
        // Let it complete a random number of writes, then kill it at once:
        // it is somewhere inside the next write.
        int want = 1 + rand() % 4;
        char c;
        for (int i = 0; i < want; i++)
            assert_int_equal(read(fds[0], &c, 1), 1);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        unsigned acked = (unsigned)want;
        while (read(fds[0], &c, 1) == 1)
            acked++; // completed between our read and the kill
        close(fds[0]);
        acked_total += acked;

        node_store_t *store = node_store_new(dir, NULL); // cleans up temps
        assert_non_null(store);
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(
            node_store_read(store, "state", S_PAYLOAD + 64, &buf, &len), HB_OK);
        long v = s_check_version(buf, len);
        // Old or new, never torn; and never older than an acknowledged one.
        assert_true(v >= (long)acked);
        assert_true(v <= (long)acked + 1);
        free(buf);
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s/.hbtmp.state", dir);
        assert_int_equal(access(tmp, F_OK), -1);
        node_store_destroy(&store);
    }
    assert_true(acked_total >= 12);
}

/* ------------------------------------------------- one owner a time -- */

//  In a child process: try to open `dir`; exit 0 when refused, 1 when
//  opened.
static int
s_try_open_elsewhere(const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(node_store_new(dir, NULL) ? 1 : 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void
test_store_refuses_a_directory_another_process_holds(void **state)
{
    fixture_t *f = *state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", node_store_dir(f->store));
    // A second node given the same directory must not start: it would
    // delete our temporary files and overwrite our state.
    assert_int_equal(s_try_open_elsewhere(dir), 0);
    // The lock file is not a name a role may write over.
    assert_int_equal(node_store_write(f->store, ".hblock", "x", 1), HB_EINVAL);
    node_store_destroy(&f->store);
    assert_int_equal(s_try_open_elsewhere(dir), 1);
}

static void
test_store_lock_dies_with_its_owner_not_its_children(void **state)
{
    fixture_t *f = *state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", node_store_dir(f->store));
    // A child forked by the owner (the healer writes its journal in one)
    // does not keep the directory when the owner lets go.
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[1]);
        char c;
        (void)!read(fds[0], &c, 1); // until the test closes the pipe
        _exit(0);
    }
    close(fds[0]);
    node_store_destroy(&f->store);
    assert_int_equal(s_try_open_elsewhere(dir), 1);
    close(fds[1]);
    assert_int_equal(waitpid(child, NULL, 0), child);
    // An owner killed by SIGKILL leaves no stale lock behind.
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t owner = fork();
    assert_true(owner >= 0);
    if (owner == 0) {
        node_store_t *store = node_store_new(dir, NULL);
        if (!store || write(ready[1], "r", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    char c;
    ssize_t got = read(ready[0], &c, 1);
    int refused = got == 1 ? s_try_open_elsewhere(dir) : -1;
    kill(owner, SIGKILL); // before any assert: never leave it running
    assert_int_equal(waitpid(owner, NULL, 0), owner);
    assert_int_equal(got, 1);
    assert_int_equal(refused, 0);
    close(ready[0]);
    close(ready[1]);
    f->store = node_store_new(dir, f->log);
    assert_non_null(f->store);
}

/* ------------------------------------------------------------- json -- */

static void
test_json_save_load_round_trip(void **state)
{
    fixture_t *f = *state;
    json_t *doc = json_pack("{s:i, s:[s, f]}", "total", 3, "items", "a", 0.5);
    assert_int_equal(
        node_json_save(f->store, ".auto_healing_log.json", doc, 4096, false),
        HB_OK);
    json_t *back = NULL;
    char why[256] = "";
    assert_int_equal(node_json_load(f->store, ".auto_healing_log.json", 4096,
                                    &back, why, sizeof why),
                     HB_OK);
    assert_true(json_equal(doc, back));
    json_decref(back);
    // Over the cap: refused before writing.
    assert_int_equal(node_json_save(f->store, "small", doc, 10, true),
                     HB_ETOOBIG);
    assert_int_equal(
        node_json_load(f->store, "small", 10, &back, why, sizeof why),
        HB_ENOTFOUND);
    assert_null(back);
    json_decref(doc);
}

static void
test_json_load_reports_line_and_column(void **state)
{
    fixture_t *f = *state;
    const char bad[] = "{\n  \"a\": 1,\n  \"b\": ]\n}\n";
    assert_int_equal(
        node_store_write(f->store, "bad.json", bad, sizeof bad - 1), HB_OK);
    json_t *doc = NULL;
    char why[256] = "";
    assert_int_equal(
        node_json_load(f->store, "bad.json", 4096, &doc, why, sizeof why),
        HB_ESYNTAX);
    assert_null(doc);
    assert_non_null(strstr(why, "bad.json:3:8:"));
    // Duplicate keys are damage too, not a silent overwrite.
    const char dup[] = "{\"a\": 1, \"a\": 2}";
    assert_int_equal(
        node_store_write(f->store, "dup.json", dup, sizeof dup - 1), HB_OK);
    assert_int_equal(
        node_json_load(f->store, "dup.json", 4096, &doc, why, sizeof why),
        HB_ESYNTAX);
    assert_int_equal(
        node_json_load(f->store, "dup.json", 4, &doc, why, sizeof why),
        HB_ETOOBIG);
}

static void
test_json_str_replaces_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82",
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"},
        {"cut \xc3", "cut \xef\xbf\xbd"},         // truncated sequence
        {"\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd"}, // never valid
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, // overlong '/'
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, // surrogate
        {"\xf4\x90\x80\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = node_json_str(cases[i].in);
        assert_non_null(j);
        assert_string_equal(json_string_value(j), cases[i].out);
        json_decref(j);
    }
    json_t *j = node_json_str(NULL);
    assert_string_equal(json_string_value(j), "");
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str_replaces_invalid_utf8),
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_store_creates_parents_private),
        T(test_store_round_trip),
        T(test_store_read_missing_is_enotfound),
        T(test_store_read_over_max_is_etoobig),
        T(test_store_rejects_bad_names),
        T(test_store_refuses_a_directory_another_process_holds),
        T(test_store_lock_dies_with_its_owner_not_its_children),
        T(test_store_read_directory_is_eio),
        T(test_store_open_removes_stale_temp_files),
        T(test_store_new_fails_on_a_file_path),
        T(test_store_survives_sigkill_mid_write),
        T(test_json_save_load_round_trip),
        T(test_json_load_reports_line_and_column),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
