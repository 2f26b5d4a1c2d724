/*  predictor_record.c - pending predictions and per-kind hit rates.

    Pending predictions sit in a small array scanned linearly: a scan
    happens per crossing bucket and per tick, never per sample. */

#include "predictor_record.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t id;
    uint64_t series_hash;
    int64_t issued_ms;
    int64_t fail_at_ms;
    uint8_t kind;
} s_pending_t;

struct predictor_record {
    predictor_record_cfg_t cfg;
    s_pending_t *pending; // owned, cfg.max_pending
    uint32_t n_pending;
    predictor_record_stats_t stats[PREDICTOR_RECORD_KINDS];
};

predictor_record_t *
predictor_record_new(const predictor_record_cfg_t *cfg)
{
    if (!cfg || cfg->max_pending < 1 || !(cfg->tolerance >= 0) ||
        cfg->min_window_ms < 0 || !(cfg->prior_hits > 0) ||
        !(cfg->prior_misses > 0))
        return NULL;
    predictor_record_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->pending = calloc(cfg->max_pending, sizeof *self->pending);
    if (!self->pending) {
        free(self);
        return NULL;
    }
    return self;
}

void
predictor_record_destroy(predictor_record_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->pending);
    free(*self_p);
    *self_p = NULL;
}

static void
s_remove(predictor_record_t *self, uint32_t i)
{
    // keep issue order (the oldest first) so "full" drops the oldest
    memmove(&self->pending[i], &self->pending[i + 1],
            (self->n_pending - i - 1) * sizeof *self->pending);
    self->n_pending--;
}

void
predictor_record_expect(predictor_record_t *self, uint64_t id,
                        uint64_t series_hash, predictor_record_kind_t kind,
                        int64_t issued_ms, int64_t fail_at_ms)
{
    assert(self && kind < PREDICTOR_RECORD_KINDS);
    for (uint32_t i = 0; i < self->n_pending; i++)
        if (self->pending[i].series_hash == series_hash) {
            s_remove(self, i);
            break;
        }
    if (self->n_pending == self->cfg.max_pending)
        s_remove(self, 0);
    if (fail_at_ms <= issued_ms)
        fail_at_ms = issued_ms + 1;
    self->pending[self->n_pending++] = (s_pending_t){
        id, series_hash, issued_ms, fail_at_ms, (uint8_t)kind};
}

uint32_t
predictor_record_crossed(predictor_record_t *self, uint64_t series_hash,
                         int64_t now_ms, predictor_record_fn *fn, void *arg)
{
    assert(self);
    for (uint32_t i = 0; i < self->n_pending; i++) {
        s_pending_t p = self->pending[i];
        if (p.series_hash != series_hash || now_ms < p.issued_ms)
            continue;
        double lead = (double)(p.fail_at_ms - p.issued_ms);
        double bias = (double)(now_ms - p.fail_at_ms) / lead;
        predictor_record_stats_t *st = &self->stats[p.kind];
        st->hits++;
        st->ttf_err_sum += fabs(bias);
        st->ttf_bias_sum += bias;
        s_remove(self, i);
        if (fn)
            fn(arg, p.id, true, bias);
        return 1;
    }
    return 0;
}

uint32_t
predictor_record_expire(predictor_record_t *self, int64_t now_ms,
                        predictor_record_fn *fn, void *arg)
{
    assert(self);
    uint32_t done = 0;
    for (uint32_t i = 0; i < self->n_pending;) {
        s_pending_t p = self->pending[i];
        int64_t window = (int64_t)(self->cfg.tolerance *
                                   (double)(p.fail_at_ms - p.issued_ms));
        if (window < self->cfg.min_window_ms)
            window = self->cfg.min_window_ms;
        if (now_ms <= p.fail_at_ms + window) {
            i++;
            continue;
        }
        self->stats[p.kind].misses++;
        s_remove(self, i);
        done++;
        if (fn)
            fn(arg, p.id, false, 0);
    }
    return done;
}

double
predictor_record_calibrate(const predictor_record_t *self,
                           predictor_record_kind_t kind, double fit_conf)
{
    assert(self && kind < PREDICTOR_RECORD_KINDS);
    const predictor_record_stats_t *st = &self->stats[kind];
    double a = self->cfg.prior_hits, b = self->cfg.prior_misses;
    double rate = ((double)st->hits + a) /
                  ((double)st->hits + (double)st->misses + a + b);
    double c = fit_conf * rate;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

const predictor_record_stats_t *
predictor_record_stats(const predictor_record_t *self,
                       predictor_record_kind_t kind)
{
    assert(self && kind < PREDICTOR_RECORD_KINDS);
    return &self->stats[kind];
}

void
predictor_record_set(predictor_record_t *self, predictor_record_kind_t kind,
                     const predictor_record_stats_t *stats)
{
    assert(self && kind < PREDICTOR_RECORD_KINDS && stats);
    self->stats[kind] = *stats;
}

uint32_t
predictor_record_pending(const predictor_record_t *self)
{
    return self->n_pending;
}

const char *
predictor_record_kind_name(predictor_record_kind_t kind)
{
    return kind == PREDICTOR_RECORD_RATE     ? "error_rate"
           : kind == PREDICTOR_RECORD_METRIC ? "metric"
                                             : "?";
}
