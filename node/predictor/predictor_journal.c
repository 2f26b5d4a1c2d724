/*  predictor_journal.c - a bounded ring of predictions <-> JSON. */

#include "predictor_journal.h"

#include "node_json.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_BYTES_PER_ENTRY 2048 // generous: an entry prints to under 1 KiB

struct predictor_journal {
    node_store_t *store;               // borrowed
    predictor_journal_entry_t *ring;   // owned, max entries
    uint32_t max;
    uint32_t start;                    // oldest entry
    uint32_t count;
    uint64_t last_id;
    bool dirty;
};

static const char *const s_outcomes[] = {"pending", "hit", "miss"};

const char *
predictor_journal_outcome_name(predictor_outcome_t outcome)
{
    return (unsigned)outcome < 3 ? s_outcomes[outcome] : "?";
}

predictor_journal_t *
predictor_journal_new(node_store_t *store, uint32_t max)
{
    if (!store || max < 1 || max > PREDICTOR_JOURNAL_MAX)
        return NULL;
    predictor_journal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ring = calloc(max, sizeof *self->ring);
    if (!self->ring) {
        free(self);
        return NULL;
    }
    self->store = store;
    self->max = max;
    return self;
}

void
predictor_journal_destroy(predictor_journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

void
predictor_journal_add(predictor_journal_t *self,
                      const predictor_journal_entry_t *entry)
{
    assert(self && entry);
    if (self->count == self->max) {
        self->start = (self->start + 1) % self->max; // drop the oldest
        self->count--;
    }
    predictor_journal_entry_t *e =
        &self->ring[(self->start + self->count) % self->max];
    *e = *entry;
    // the caller's strings may lack a NUL inside the fields: re-terminate
    e->worker[sizeof e->worker - 1] = '\0';
    e->series[sizeof e->series - 1] = '\0';
    e->reason[sizeof e->reason - 1] = '\0';
    e->action[sizeof e->action - 1] = '\0';
    self->count++;
    if (entry->id > self->last_id)
        self->last_id = entry->id;
    self->dirty = true;
}

bool
predictor_journal_resolve(predictor_journal_t *self, uint64_t id,
                          predictor_outcome_t outcome)
{
    assert(self);
    for (uint32_t i = self->count; i-- > 0;) {
        predictor_journal_entry_t *e = &self->ring[(self->start + i) % self->max];
        if (e->id == id) {
            e->outcome = outcome;
            self->dirty = true;
            return true;
        }
    }
    return false;
}

uint32_t
predictor_journal_count(const predictor_journal_t *self)
{
    return self->count;
}

const predictor_journal_entry_t *
predictor_journal_at(const predictor_journal_t *self, uint32_t i)
{
    assert(self && i < self->count);
    return &self->ring[(self->start + i) % self->max];
}

uint64_t
predictor_journal_last_id(const predictor_journal_t *self)
{
    return self->last_id;
}

bool
predictor_journal_dirty(const predictor_journal_t *self)
{
    return self->dirty;
}

/* -------------------------------------------------------------- save -- */

static void
s_iso_us(int64_t us, char *buf, size_t cap)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) ||
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "invalid");
}

static json_t *
s_entry_json(const predictor_journal_entry_t *e)
{
    char ts[40], fail[40], pred[64];
    s_iso_us(e->issued_us, ts, sizeof ts);
    s_iso_us(e->fail_at_us, fail, sizeof fail);
    snprintf(pred, sizeof pred, "will_fail_by_%s", fail);
    return json_pack(
        "{s:I, s:s, s:o, s:s, s:f, s:o, s:s, s:o, s:s, s:s, s:I, s:I}",
        "id", (json_int_t)e->id, "timestamp", ts, "worker",
        node_json_str(e->worker), "prediction", pred, "confidence",
        e->confidence, "reason", node_json_str(e->reason),
        "suggested_action", e->action, "series", node_json_str(e->series),
        "level",
        proto_msg_level_name(e->level), "outcome",
        predictor_journal_outcome_name(e->outcome), "issued_us",
        (json_int_t)e->issued_us, "fail_at_us", (json_int_t)e->fail_at_us);
}

static json_t *
s_record_json(const predictor_record_stats_t *stats)
{
    json_t *rec = json_object();
    for (int k = 0; rec && k < PREDICTOR_RECORD_KINDS; k++) {
        const predictor_record_stats_t *st = &stats[k];
        uint64_t n = st->hits + st->misses;
        json_t *o = json_pack(
            "{s:I, s:I, s:f, s:f, s:f, s:f}", "hits", (json_int_t)st->hits,
            "misses", (json_int_t)st->misses, "hit_rate",
            n ? (double)st->hits / (double)n : 0.0, "ttf_error_mean",
            st->hits ? st->ttf_err_sum / (double)st->hits : 0.0,
            "ttf_err_sum", st->ttf_err_sum, "ttf_bias_sum", st->ttf_bias_sum);
        if (!o || json_object_set_new(
                      rec, predictor_record_kind_name(
                               (predictor_record_kind_t)k), o) != 0) {
            json_decref(rec);
            return NULL;
        }
    }
    return rec;
}

hb_err_t
predictor_journal_save(predictor_journal_t *self,
                       const predictor_record_stats_t *stats)
{
    assert(self && stats);
    hb_err_t rc = HB_ENOMEM;
    json_t *list = json_array();
    json_t *doc = json_object();
    json_t *rec = s_record_json(stats);
    if (!list || !doc || !rec)
        goto out;
    for (uint32_t i = 0; i < self->count; i++)
        if (json_array_append_new(list,
                                  s_entry_json(predictor_journal_at(self, i))))
            goto out;
    if (json_object_set(doc, "predictions", list) ||
        json_object_set(doc, "record", rec))
        goto out;
    rc = node_json_save(self->store, PREDICTOR_JOURNAL_FILE, doc,
                        (size_t)self->max * S_BYTES_PER_ENTRY + 4096, false);
    if (rc == HB_OK)
        self->dirty = false;
out:
    json_decref(rec);
    json_decref(doc);
    json_decref(list);
    return rc;
}

/* -------------------------------------------------------------- load -- */

//  Copy string member `key` of `o` into dst[cap]; false when absent, not a
//  string, empty (unless `empty_ok`), too long or holding a NUL.
static bool
s_str(const json_t *o, const char *key, char *dst, size_t cap, bool empty_ok)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return false;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= cap || (!empty_ok && len == 0) || strlen(s) != len)
        return false;
    memcpy(dst, s, len + 1);
    return true;
}

static bool
s_int(const json_t *o, const char *key, int64_t min, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool
s_enum(const json_t *o, const char *key, const char *(*name)(int), int n,
       int *out)
{
    char buf[32];
    if (!s_str(o, key, buf, sizeof buf, false))
        return false;
    for (int i = 0; i < n; i++)
        if (strcmp(buf, name(i)) == 0) {
            *out = i;
            return true;
        }
    return false;
}

static const char *
s_level_name(int i)
{
    const char *n = proto_msg_level_name((proto_level_t)i);
    return n ? n : "";
}

static const char *
s_outcome_name(int i)
{
    return predictor_journal_outcome_name((predictor_outcome_t)i);
}

//  One entry; on failure names the first bad field.
static const char *
s_entry_parse(const json_t *o, predictor_journal_entry_t *e)
{
    char scratch[64];
    int64_t id;
    int level, outcome;
    memset(e, 0, sizeof *e);
    if (!json_is_object(o))
        return "not an object";
    if (!s_int(o, "id", 1, &id))
        return "id";
    e->id = (uint64_t)id;
    if (!s_str(o, "timestamp", scratch, sizeof scratch, false))
        return "timestamp";
    if (!s_str(o, "worker", e->worker, sizeof e->worker, false))
        return "worker";
    if (!s_str(o, "prediction", scratch, sizeof scratch, false) ||
        strncmp(scratch, "will_fail_by_", 13) != 0)
        return "prediction";
    const json_t *c = json_object_get(o, "confidence");
    if (!json_is_number(c) || !(json_number_value(c) >= 0) ||
        json_number_value(c) > 1)
        return "confidence";
    e->confidence = json_number_value(c);
    if (!s_str(o, "reason", e->reason, sizeof e->reason, true))
        return "reason";
    if (!s_str(o, "suggested_action", e->action, sizeof e->action, false))
        return "suggested_action";
    if (!s_str(o, "series", e->series, sizeof e->series, false))
        return "series";
    if (!s_enum(o, "level", s_level_name, PROTO_LEVEL_COUNT, &level))
        return "level";
    if (!s_enum(o, "outcome", s_outcome_name, 3, &outcome))
        return "outcome";
    if (!s_int(o, "issued_us", 0, &e->issued_us))
        return "issued_us";
    if (!s_int(o, "fail_at_us", 0, &e->fail_at_us))
        return "fail_at_us";
    e->level = (proto_level_t)level;
    e->outcome = (predictor_outcome_t)outcome;
    return NULL;
}

static const char *
s_record_parse(const json_t *rec, predictor_record_stats_t *stats)
{
    if (!rec)
        return NULL; // older files carry no record
    if (!json_is_object(rec))
        return "record";
    for (int k = 0; k < PREDICTOR_RECORD_KINDS; k++) {
        const json_t *o =
            json_object_get(rec, predictor_record_kind_name(
                                     (predictor_record_kind_t)k));
        if (!o)
            continue;
        int64_t hits, misses;
        const json_t *es = json_object_get(o, "ttf_err_sum");
        const json_t *bs = json_object_get(o, "ttf_bias_sum");
        if (!json_is_object(o) || !s_int(o, "hits", 0, &hits) ||
            !s_int(o, "misses", 0, &misses) || !json_is_number(es) ||
            !json_is_number(bs) || !isfinite(json_number_value(es)) ||
            !isfinite(json_number_value(bs)))
            return "record";
        stats[k] = (predictor_record_stats_t){
            (uint64_t)hits, (uint64_t)misses, json_number_value(es),
            json_number_value(bs)};
    }
    return NULL;
}

//  Fill the journal from `doc`; on failure say what is wrong in `why`.
static hb_err_t
s_from_doc(predictor_journal_t *self, const json_t *doc,
           predictor_record_stats_t *stats, char *why, size_t why_len)
{
    const json_t *list = json_object_get(doc, "predictions");
    if (!json_is_object(doc) || !json_is_array(list)) {
        snprintf(why, why_len, "%s: no \"predictions\" array",
                 PREDICTOR_JOURNAL_FILE);
        return HB_ESYNTAX;
    }
    size_t n = json_array_size(list);
    size_t first = n > self->max ? n - self->max : 0; // newest max only
    for (size_t i = first; i < n; i++) {
        predictor_journal_entry_t e;
        const char *bad = s_entry_parse(json_array_get(list, i), &e);
        if (bad) {
            snprintf(why, why_len, "%s: prediction %zu: bad %s",
                     PREDICTOR_JOURNAL_FILE, i, bad);
            return HB_ESYNTAX;
        }
        predictor_journal_add(self, &e);
    }
    const char *bad = s_record_parse(json_object_get(doc, "record"), stats);
    if (bad) {
        snprintf(why, why_len, "%s: bad %s", PREDICTOR_JOURNAL_FILE, bad);
        return HB_ESYNTAX;
    }
    return HB_OK;
}

static void
s_move_aside(predictor_journal_t *self)
{
    char from[PATH_MAX], to[PATH_MAX];
    const char *dir = node_store_dir(self->store);
    snprintf(from, sizeof from, "%s/%s", dir, PREDICTOR_JOURNAL_FILE);
    snprintf(to, sizeof to, "%s/%s", dir, PREDICTOR_JOURNAL_ASIDE);
    (void)rename(from, to); // best effort: the next save replaces it anyway
}

hb_err_t
predictor_journal_load(predictor_journal_t *self,
                       predictor_record_stats_t *stats, char *why,
                       size_t why_len)
{
    assert(self && stats && (why || !why_len));
    char dummy[1];
    if (!why) {
        why = dummy;
        why_len = sizeof dummy;
    }
    memset(stats, 0, PREDICTOR_RECORD_KINDS * sizeof *stats);
    self->start = self->count = 0;
    json_t *doc = NULL;
    hb_err_t rc = node_json_load(self->store, PREDICTOR_JOURNAL_FILE,
                                 (size_t)self->max * S_BYTES_PER_ENTRY + 4096,
                                 &doc, why, why_len);
    if (rc == HB_ENOTFOUND)
        return HB_OK;
    if (rc == HB_OK)
        rc = s_from_doc(self, doc, stats, why, why_len);
    json_decref(doc);
    if (rc == HB_ESYNTAX || rc == HB_ETOOBIG) {
        s_move_aside(self);
        self->start = self->count = 0;
        memset(stats, 0, PREDICTOR_RECORD_KINDS * sizeof *stats);
    }
    self->dirty = false;
    return rc;
}
