/*  healer_journal.c - .auto_healing_log.json and the template file (see
    healer_journal.h). */

#include "healer_journal.h"
#include "node_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_STR_MAX 1024 // bytes of any string field taken from a file

struct healer_journal {
    node_store_t *store;   // borrowed
    hb_log_t *log;         // borrowed
    uint32_t max_entries;
    json_t *attempts;      // owned array, oldest first
    uint64_t total;        // all-time attempts
    uint64_t successes;    // all-time committed
    uint64_t writes;
    uint64_t corrupt;
    bool dirty;
    pid_t writer;          // background writer running, 0 when none
};

healer_journal_t *
healer_journal_new(node_store_t *store, hb_log_t *log, uint32_t max_entries)
{
    if (!store || max_entries == 0 || max_entries > HEALER_JOURNAL_MAX_ENTRIES)
        return NULL;
    healer_journal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->log = log;
    self->max_entries = max_entries;
    self->attempts = json_array();
    if (!self->attempts)
        healer_journal_destroy(&self);
    return self;
}

void
healer_journal_destroy(healer_journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    healer_journal_reap(*self_p, true);
    json_decref((*self_p)->attempts);
    free(*self_p);
    *self_p = NULL;
}

static void
s_trim(healer_journal_t *self)
{
    size_t n = json_array_size(self->attempts);
    // Remove in one pass from the front: bounded retention, newest kept.
    while (n > self->max_entries) {
        json_array_remove(self->attempts, 0);
        n--;
    }
}

static void
s_iso8601(int64_t wall_us, char *buf, size_t len)
{
    time_t secs = (time_t)(wall_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(wall_us / 1000 % 1000));
}

void
healer_journal_add(healer_journal_t *self, const healer_orch_outcome_t *o)
{
    char ts[48];
    s_iso8601(o->wall_us, ts, sizeof ts);
    // Names, texts and reasons come from peers: node_json_str keeps a
    // stray non-UTF-8 byte from costing the whole entry.
    json_t *e = json_pack(
        "{s:s, s:o, s:o, s:o, s:s, s:b, s:I, s:s, s:s, s:o, s:s, s:o}",
        "timestamp", ts, "agent", node_json_str(o->agent), "method",
        node_json_str(o->op), "error_type", node_json_str(o->error_class),
        "fix_applied", o->fix_text, "success", o->success, "attempt_number",
        (json_int_t)o->attempt, "fix", o->fix_name, "fix_id", o->fix_id,
        "template", node_json_str(o->template_text), "outcome", o->outcome,
        "reason", node_json_str(o->reason));
    if (!e || json_array_append_new(self->attempts, e) != 0) {
        hb_log_error(self->log, "healer: journal: out of memory");
        return;
    }
    self->total++;
    self->successes += o->success;
    self->dirty = true;
    s_trim(self);
}

/* ---------------------------------------------------------------- save -- */

static json_t *
s_learning(const healer_learn_t *learn)
{
    json_t *arr = json_array();
    healer_learn_entry_t e;
    for (uint32_t i = 0; arr && healer_learn_entry(learn, i, &e); i++)
        json_array_append_new(
            arr, json_pack("{s:o, s:o, s:s, s:i, s:i}", "error_class",
                           node_json_str(e.error_class), "pattern",
                           node_json_str(e.pattern), "fix", e.fix,
                           "successes", (int)e.successes, "failures",
                           (int)e.failures));
    return arr;
}

static hb_err_t
s_write_templates(healer_journal_t *self, const healer_templates_t *miner)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return HB_ENOMEM;
    int rc = healer_templates_save(miner, f);
    if (fclose(f) != 0 || rc != 0) {
        free(buf);
        return HB_ENOMEM;
    }
    hb_err_t err = node_store_write(self->store, HEALER_JOURNAL_TEMPLATES,
                                    buf, len);
    free(buf);
    return err;
}

//  Serialise and write both files; the caller counts the write.
static hb_err_t
s_write(healer_journal_t *self, const healer_learn_t *learn,
        const healer_templates_t *miner)
{
    double rate = self->total ? (double)self->successes / (double)self->total
                              : 0.0;
    json_t *root = json_pack(
        "{s:i, s:O, s:I, s:I, s:f, s:o}", "version", 1, "healing_attempts",
        self->attempts, "total_attempts", (json_int_t)self->total,
        "successful_heals", (json_int_t)self->successes, "success_rate", rate,
        "learned_fixes", s_learning(learn));
    char *text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    json_decref(root);
    if (!text)
        return HB_ENOMEM;
    hb_err_t rc = node_store_write(self->store, HEALER_JOURNAL_FILE, text,
                                   strlen(text));
    free(text);
    if (rc == HB_OK && miner)
        rc = s_write_templates(self, miner);
    if (rc != HB_OK)
        hb_log_warn(self->log, "healer: journal not written: %s",
                    hb_err_str(rc));
    return rc;
}

hb_err_t
healer_journal_flush(healer_journal_t *self, const healer_learn_t *learn,
                     const healer_templates_t *miner)
{
    // A background writer uses the same temporary names: let it finish.
    healer_journal_reap(self, true);
    hb_err_t rc = s_write(self, learn, miner);
    if (rc == HB_OK) {
        self->writes++;
        self->dirty = false;
    }
    return rc;
}

hb_err_t
healer_journal_flush_bg(healer_journal_t *self, const healer_learn_t *learn,
                        const healer_templates_t *miner)
{
    if (healer_journal_reap(self, false))
        return HB_EFULL;
    fflush(NULL); // or the child's exit could repeat buffered output
    pid_t pid = fork();
    if (pid == 0)
        _exit(s_write(self, learn, miner) == HB_OK ? 0 : 1);
    if (pid < 0) {
        hb_log_warn(self->log, "healer: journal: fork: %s; writing in the "
                    "loop", strerror(errno));
        return healer_journal_flush(self, learn, miner);
    }
    self->writer = pid;
    self->dirty = false; // changes from now on are the next write's
    return HB_OK;
}

bool
healer_journal_reap(healer_journal_t *self, bool block)
{
    if (self->writer == 0)
        return false;
    int st = 0;
    pid_t got;
    while ((got = waitpid(self->writer, &st, block ? 0 : WNOHANG)) < 0 &&
           errno == EINTR)
        ;
    if (got == 0)
        return true;
    self->writer = 0;
    if (got > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        self->writes++;
        return false;
    }
    // The child logged why; the next flush writes everything again.
    self->dirty = true;
    if (got < 0)
        hb_log_warn(self->log, "healer: journal writer: %s", strerror(errno));
    return false;
}

/* ---------------------------------------------------------------- load -- */

static void
s_move_aside(healer_journal_t *self, const char *name, const char *why)
{
    char from[4096], to[4096];
    const char *dir = node_store_dir(self->store);
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(to, sizeof to, "%s/%s.corrupt-%lld", dir, name,
             (long long)time(NULL));
    self->corrupt++;
    if (rename(from, to) != 0)
        hb_log_error(self->log, "healer: %s is corrupt (%s) and could not be "
                     "moved aside: %s; starting fresh", from, why,
                     strerror(errno));
    else
        hb_log_error(self->log, "healer: %s is corrupt (%s); moved to %s, "
                     "starting fresh", from, why, to);
}

//  A string field of at most S_STR_MAX bytes, or NULL.
static const char *
s_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) > S_STR_MAX)
        return NULL;
    return json_string_value(v);
}

static bool
s_uint(const json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

//  Copy one attempt, keeping only known fields of the right type.
static json_t *
s_attempt(const json_t *in)
{
    static const char *const strs[] = {"timestamp", "agent", "method",
                                       "error_type", "fix_applied", "fix",
                                       "fix_id", "template", "outcome",
                                       "reason"};
    uint64_t attempt;
    const json_t *ok = json_object_get(in, "success");
    if (!json_is_object(in) || !json_is_boolean(ok) ||
        !s_uint(in, "attempt_number", 1000000, &attempt))
        return NULL;
    json_t *out = json_object();
    for (size_t i = 0; out && i < sizeof strs / sizeof strs[0]; i++) {
        const char *s = s_str(in, strs[i]);
        if (!s) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, strs[i], json_string(s));
    }
    if (out) {
        json_object_set_new(out, "success", json_boolean(json_is_true(ok)));
        json_object_set_new(out, "attempt_number",
                            json_integer((json_int_t)attempt));
    }
    return out;
}

static uint32_t
s_load_learning(const json_t *arr, healer_learn_t *learn)
{
    uint32_t bad = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        const char *c = s_str(e, "error_class"), *p = s_str(e, "pattern");
        const char *f = s_str(e, "fix");
        uint64_t s, fl;
        if (!c || !p || !f || !*f || !s_uint(e, "successes", 1u << 30, &s) ||
            !s_uint(e, "failures", 1u << 30, &fl)) {
            bad++;
            continue;
        }
        healer_learn_set(learn, c, p, f, (uint32_t)s, (uint32_t)fl);
    }
    return bad;
}

//  Take what is sound from a parsed root; false if its shape is wrong.
static bool
s_load_root(healer_journal_t *self, const json_t *root, healer_learn_t *learn)
{
    const json_t *att = json_object_get(root, "healing_attempts");
    const json_t *lf = json_object_get(root, "learned_fixes");
    uint64_t total, ok;
    if (!json_is_object(root) || !json_is_array(att) ||
        (lf && !json_is_array(lf)) ||
        !s_uint(root, "total_attempts", UINT64_MAX / 2, &total) ||
        !s_uint(root, "successful_heals", total, &ok))
        return false;
    uint32_t bad = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(att, i, e) {
        json_t *copy = s_attempt(e);
        if (copy)
            json_array_append_new(self->attempts, copy);
        else
            bad++;
    }
    s_trim(self);
    self->total = total;
    self->successes = ok;
    if (lf)
        bad += s_load_learning(lf, learn);
    if (bad)
        hb_log_warn(self->log, "healer: %s: %u malformed entries skipped",
                    HEALER_JOURNAL_FILE, bad);
    return true;
}

static hb_err_t
s_load_log(healer_journal_t *self, healer_learn_t *learn)
{
    char *buf = NULL;
    size_t len = 0;
    hb_err_t rc = node_store_read(self->store, HEALER_JOURNAL_FILE,
                                  HEALER_JOURNAL_MAX_BYTES, &buf, &len);
    if (rc == HB_ENOTFOUND)
        return HB_OK;
    if (rc != HB_OK) {
        s_move_aside(self, HEALER_JOURNAL_FILE, hb_err_str(rc));
        return HB_OK;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    char why[256];
    if (!root) {
        snprintf(why, sizeof why, "line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        s_move_aside(self, HEALER_JOURNAL_FILE, why);
    } else if (!s_load_root(self, root, learn)) {
        s_move_aside(self, HEALER_JOURNAL_FILE,
                     "not a healing log: missing or mistyped "
                     "healing_attempts, total_attempts or successful_heals");
    } else {
        hb_log_info(self->log, "healer: resumed %u attempts (%llu in all, "
                    "%llu healed) and %u learned records",
                    healer_journal_count(self),
                    (unsigned long long)self->total,
                    (unsigned long long)self->successes,
                    healer_learn_count(learn));
    }
    json_decref(root);
    return HB_OK;
}

static void
s_load_templates(healer_journal_t *self, healer_templates_t **miner_p)
{
    char *buf = NULL;
    size_t len = 0;
    hb_err_t rc = node_store_read(self->store, HEALER_JOURNAL_TEMPLATES,
                                  HEALER_JOURNAL_MAX_BYTES, &buf, &len);
    if (rc == HB_ENOTFOUND)
        return;
    healer_templates_t *miner = NULL;
    char why[256] = "";
    FILE *f = rc == HB_OK ? fmemopen(buf, len ? len : 1, "r") : NULL;
    if (f) {
        miner = healer_templates_load(f, NULL, why, sizeof why);
        fclose(f);
    } else {
        snprintf(why, sizeof why, "%s", hb_err_str(rc));
    }
    free(buf);
    if (!miner) {
        s_move_aside(self, HEALER_JOURNAL_TEMPLATES, why);
        return;
    }
    healer_templates_destroy(miner_p);
    *miner_p = miner;
}

hb_err_t
healer_journal_load(healer_journal_t *self, healer_learn_t *learn,
                    healer_templates_t **miner_p)
{
    hb_err_t rc = s_load_log(self, learn);
    if (rc == HB_OK && miner_p)
        s_load_templates(self, miner_p);
    return rc;
}

bool
healer_journal_dirty(const healer_journal_t *self)
{
    return self->dirty;
}

uint32_t
healer_journal_count(const healer_journal_t *self)
{
    return (uint32_t)json_array_size(self->attempts);
}

uint64_t
healer_journal_total(const healer_journal_t *self)
{
    return self->total;
}

uint64_t
healer_journal_successes(const healer_journal_t *self)
{
    return self->successes;
}

uint64_t
healer_journal_writes(const healer_journal_t *self)
{
    return self->writes;
}

uint64_t
healer_journal_corrupt(const healer_journal_t *self)
{
    return self->corrupt;
}
