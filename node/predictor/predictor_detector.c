/*  predictor_detector: online anomaly detector over one numeric series.

    Each sample is turned into a few "views" (the value, its step from the
    previous sample, its gap to the same time on previous days, each also
    averaged over a short window). Every view keeps a sorted window of its
    own past, so a new view value gets an honest empirical tail probability;
    beyond the range seen, the tail is extrapolated as exponential. The
    smallest tail probability, corrected for the number of views, is the
    evidence; an alert needs it below `alpha` and outside the refractory
    period after the previous alert. See docs/prediction.md. */

#include "predictor_detector.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREDICTOR_DETECTOR_HISTORY_MIN 64u
#define PREDICTOR_DETECTOR_HISTORY_MAX 65536u
#define PREDICTOR_DETECTOR_SEASON_DAYS 7     // previous periods looked up
#define PREDICTOR_DETECTOR_MAGIC 0x31444250u // "PBD1" little-endian
#define PREDICTOR_DETECTOR_VERSION 1u

//  Derived streams, one value per sample, kept for the last `history`
//  samples so that views can average them.
typedef enum {
    S_STREAM_LEVEL = 0, // the value itself
    S_STREAM_STEP,      // value minus previous value
    S_STREAM_SEASON,    // value minus median of same time on previous days
    S_STREAMS
} s_stream_t;

typedef struct {
    s_stream_t stream;
    uint32_t width; // samples averaged
} s_view_def_t;

//  The views. Width 1 catches spikes and jumps at once; the wider ones
//  catch shifts too small to stand out in one sample but steady enough to
//  move a short average out of its usual range.
static const s_view_def_t s_views[] = {
    {S_STREAM_LEVEL, 1},
    {S_STREAM_LEVEL, 12},
    {S_STREAM_SEASON, 1},
};
#define S_NVIEWS (sizeof s_views / sizeof s_views[0])

//  A sliding window of doubles kept twice: in arrival order (to know which
//  value leaves next) and sorted (for ranks and tails).
typedef struct {
    double *ring;   // borrowed from the detector's block
    double *sorted; // borrowed from the detector's block
    uint32_t head;  // next slot to write in ring
    uint32_t count;
} s_window_t;

struct predictor_detector {
    predictor_detector_cfg_t cfg;
    size_t bytes;              // whole allocation, struct included
    uint64_t samples;          // seen since creation
    uint64_t since_alert;      // samples since the last alert (saturates)
    uint32_t head;             // next slot in the stream rings
    uint32_t count;            // filled slots in the stream rings
    int64_t *ts;               // ring of timestamps
    double *stream[S_STREAMS]; // rings of derived streams
    s_window_t view[S_NVIEWS]; // past values of each view
    double block[];            // every array above lives here
};

// ---------------------------------------------------------------------------
//  Sorted window

//  Index of the first sorted value >= v (strict=0) or > v (strict=1).
static uint32_t
s_lower(const s_window_t *w, double v, int strict)
{
    uint32_t lo = 0, hi = w->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->sorted[mid] < v || (strict && w->sorted[mid] == v))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
s_window_push(s_window_t *w, uint32_t cap, double v)
{
    if (w->count == cap) {
        //  drop the oldest value from the sorted copy first
        double old = w->ring[w->head];
        uint32_t at = s_lower(w, old, 0);
        memmove(w->sorted + at, w->sorted + at + 1,
                (w->count - at - 1) * sizeof(double));
        w->count--;
    }
    uint32_t at = s_lower(w, v, 1);
    memmove(w->sorted + at + 1, w->sorted + at,
            (w->count - at) * sizeof(double));
    w->sorted[at] = v;
    w->count++;
    w->ring[w->head] = v;
    w->head = (w->head + 1) % cap;
}

//  Mean excess of the k most extreme values over the k-th one: the scale of
//  an exponential tail fitted to the top (upper=1) or bottom of the window.
static double
s_window_tail_scale(const s_window_t *w, uint32_t k, int upper)
{
    double sum = 0;
    uint32_t n = w->count;
    double base = upper ? w->sorted[n - k] : w->sorted[k - 1];
    for (uint32_t i = 0; i < k; i++)
        sum += upper ? w->sorted[n - 1 - i] - base : base - w->sorted[i];
    return sum / k;
}

//  One-sided tail probability of v: the share of the past at least as
//  extreme (counting v itself), or beyond the extreme an exponential tail.
static double
s_window_tail_p(const s_window_t *w, double v, int upper)
{
    uint32_t n = w->count;
    double edge = upper ? w->sorted[n - 1] : w->sorted[0];
    double beyond = upper ? v - edge : edge - v;
    if (beyond <= 0) {
        uint32_t as_extreme = upper ? n - s_lower(w, v, 0) : s_lower(w, v, 1);
        return (as_extreme + 1.0) / (n + 1.0);
    }
    uint32_t k = n / 64 > 4 ? n / 64 : 4;
    //  a tail of ties (counts, idle zeros) has no spread of its own: borrow
    //  a share of the whole range so one small step is not infinitely rare
    double scale = s_window_tail_scale(w, k, upper);
    double floor = (w->sorted[n - 1] - w->sorted[0]) / n;
    if (scale < floor)
        scale = floor;
    if (!(scale > 0))
        return 0; // never moved at all before: any move is news
    return exp(-beyond / scale) / (n + 1.0);
}

// ---------------------------------------------------------------------------
//  Streams

static uint32_t
s_slot(const predictor_detector_t *self, uint32_t back)
{
    uint32_t h = self->cfg.history;
    return (self->head + h - 1 - back) % h;
}

//  Slot of the sample whose time is nearest `target`, or UINT32_MAX if none
//  is within `tol_ms`. Binary search by time over the ring, oldest first.
static uint32_t
s_find_time(const predictor_detector_t *self, int64_t target, int64_t tol_ms)
{
    uint32_t lo = 0, hi = self->count; // logical: 0 = oldest
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (self->ts[s_slot(self, self->count - 1 - mid)] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t best = UINT32_MAX;
    int64_t best_dt = tol_ms + 1;
    for (uint32_t j = lo > 0 ? lo - 1 : 0; j <= lo && j < self->count; j++) {
        uint32_t slot = s_slot(self, self->count - 1 - j);
        int64_t dt = llabs(self->ts[slot] - target);
        if (dt < best_dt) {
            best_dt = dt;
            best = slot;
        }
    }
    return best;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  Value minus the median of the values at the same phase of the previous
//  periods still in memory; NaN while no earlier period is remembered.
static double
s_season_gap(const predictor_detector_t *self, int64_t ts_ms, double value)
{
    int64_t period = self->cfg.season_ms;
    if (period <= 0 || self->count == 0)
        return NAN;
    double seen[PREDICTOR_DETECTOR_SEASON_DAYS];
    int n = 0;
    for (int k = 1; k <= PREDICTOR_DETECTOR_SEASON_DAYS; k++) {
        uint32_t slot = s_find_time(self, ts_ms - k * period, period / 48);
        if (slot != UINT32_MAX)
            seen[n++] = self->stream[S_STREAM_LEVEL][slot];
    }
    if (n == 0)
        return NAN;
    qsort(seen, (size_t)n, sizeof seen[0], s_cmp_double);
    double median = n % 2 ? seen[n / 2] : (seen[n / 2 - 1] + seen[n / 2]) / 2;
    return value - median;
}

static void
s_push_sample(predictor_detector_t *self, int64_t ts_ms, double value)
{
    double step = self->count
                      ? value - self->stream[S_STREAM_LEVEL][s_slot(self, 0)]
                      : NAN;
    double gap = s_season_gap(self, ts_ms, value);
    uint32_t h = self->cfg.history;
    self->ts[self->head] = ts_ms;
    self->stream[S_STREAM_LEVEL][self->head] = value;
    self->stream[S_STREAM_STEP][self->head] = step;
    self->stream[S_STREAM_SEASON][self->head] = gap;
    self->head = (self->head + 1) % h;
    if (self->count < h)
        self->count++;
}

//  Mean of the newest `width` values of a stream, NaN if any is missing.
static double
s_stream_mean(const predictor_detector_t *self, s_stream_t s, uint32_t width)
{
    if (width > self->count)
        return NAN;
    double sum = 0;
    for (uint32_t i = 0; i < width; i++)
        sum += self->stream[s][s_slot(self, i)];
    return sum / width; // NaN propagates
}

// ---------------------------------------------------------------------------
//  Life cycle

void
predictor_detector_cfg_default(predictor_detector_cfg_t *cfg)
{
    assert(cfg);
    cfg->history = 2048;   // a week of 5-minute samples
    cfg->refractory = 288; // a day of 5-minute samples
    cfg->alpha = 5e-4;     // one sample in 2000 on a steady series
    cfg->season_ms = 86400000;
}

static bool
s_cfg_valid(const predictor_detector_cfg_t *cfg)
{
    return cfg->history >= PREDICTOR_DETECTOR_HISTORY_MIN &&
           cfg->history <= PREDICTOR_DETECTOR_HISTORY_MAX && cfg->alpha > 0 &&
           cfg->alpha <= 0.01 && cfg->season_ms >= 0 &&
           cfg->season_ms <= INT64_C(366) * 86400000;
}

//  Doubles in the block: timestamps (same size), streams, and two arrays
//  per view.
static size_t
s_block_doubles(uint32_t history)
{
    return (size_t)history * (1 + S_STREAMS + 2 * S_NVIEWS);
}

predictor_detector_t *
predictor_detector_new(const predictor_detector_cfg_t *cfg,
                       predictor_detector_err_t *why)
{
    predictor_detector_cfg_t def;
    if (!cfg) {
        predictor_detector_cfg_default(&def);
        cfg = &def;
    }
    if (!s_cfg_valid(cfg)) {
        if (why)
            *why = PREDICTOR_DETECTOR_ECFG;
        return NULL;
    }
    size_t bytes = sizeof(predictor_detector_t) +
                   s_block_doubles(cfg->history) * sizeof(double);
    predictor_detector_t *self = calloc(1, bytes);
    if (!self) {
        if (why)
            *why = PREDICTOR_DETECTOR_ENOMEM;
        return NULL;
    }
    self->cfg = *cfg;
    self->bytes = bytes;
    self->since_alert = UINT64_MAX;
    double *p = self->block;
    uint32_t h = cfg->history;
    self->ts = (int64_t *)(void *)p; // same size and alignment as double
    p += h;
    for (int s = 0; s < S_STREAMS; s++, p += h)
        self->stream[s] = p;
    for (size_t v = 0; v < S_NVIEWS; v++) {
        self->view[v].ring = p;
        self->view[v].sorted = p + h;
        p += 2 * (size_t)h;
    }
    if (why)
        *why = PREDICTOR_DETECTOR_OK;
    return self;
}

void
predictor_detector_destroy(predictor_detector_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t
predictor_detector_bytes(const predictor_detector_t *self)
{
    assert(self);
    return self->bytes;
}

uint64_t
predictor_detector_samples(const predictor_detector_t *self)
{
    assert(self);
    return self->samples;
}

// ---------------------------------------------------------------------------
//  Scoring

//  Two-sided tail probability of each view's new value against that view's
//  past, then the past is updated. Returns the smallest, with its view.
static double
s_score_views(predictor_detector_t *self, int *view_out)
{
    double best = 1;
    *view_out = -1;
    //  a view speaks only once its past holds enough values to have a tail
    uint32_t min_fill = self->cfg.history / 16;
    for (size_t v = 0; v < S_NVIEWS; v++) {
        s_window_t *w = &self->view[v];
        double x = s_stream_mean(self, s_views[v].stream, s_views[v].width);
        if (isnan(x))
            continue;
        if (w->count >= min_fill) {
            double p_hi = s_window_tail_p(w, x, 1);
            double p_lo = s_window_tail_p(w, x, 0);
            double p = 2 * (p_hi < p_lo ? p_hi : p_lo);
            if (p < best) {
                best = p;
                *view_out = (int)v;
            }
        }
        s_window_push(w, self->cfg.history, x);
    }
    return best;
}

//  Map evidence to the public score: 0.5 at alpha, 1 at alpha squared, on a
//  log scale so that each factor of ten in the tail counts the same.
static double
s_score_of(double p, double alpha)
{
    if (p <= 0)
        return 1;
    double s = 0.5 * log10(p) / log10(alpha);
    return !(s > 0) ? 0 : s > 1 ? 1 : s; // no -0.0 when p is 1
}

static predictor_level_t
s_level_of(double score)
{
    if (score < 0.5)
        return PREDICTOR_LEVEL_NONE;
    if (score < 0.6)
        return PREDICTOR_LEVEL_LOW;
    if (score < 0.75)
        return PREDICTOR_LEVEL_MEDIUM;
    if (score < 0.9)
        return PREDICTOR_LEVEL_HIGH;
    return PREDICTOR_LEVEL_CRITICAL;
}

predictor_detector_err_t
predictor_detector_update(predictor_detector_t *self, int64_t ts_ms,
                          double value, predictor_result_t *out)
{
    assert(self);
    assert(out);
    if (!isfinite(value))
        return PREDICTOR_DETECTOR_EVALUE;
    s_push_sample(self, ts_ms, value);
    self->samples++;
    int view;
    double p = s_score_views(self, &view) * (double)S_NVIEWS;
    if (p > 1)
        p = 1;
    double score = s_score_of(p, self->cfg.alpha);
    bool quiet = self->since_alert < self->cfg.refractory;
    bool alert = score >= 0.5 && !quiet;
    if (self->since_alert < UINT64_MAX)
        self->since_alert++;
    if (alert)
        self->since_alert = 0;
    else if (score > 0.499)
        score = 0.499; // stays below 0.5 once printed with 3+ decimals
    *out = (predictor_result_t){.score = score,
                                .p_value = p,
                                .level = s_level_of(score),
                                .alert = alert,
                                .view = view};
    return PREDICTOR_DETECTOR_OK;
}

const char *
predictor_level_name(predictor_level_t level)
{
    static const char *const names[] = {"NONE", "LOW", "MEDIUM", "HIGH",
                                        "CRITICAL"};
    if ((unsigned)level >= sizeof names / sizeof names[0])
        return "?";
    return names[level];
}

const char *
predictor_detector_strerror(predictor_detector_err_t err)
{
    static const char *const texts[] = {
        "ok",
        "value is NaN or infinite",
        "configuration out of range",
        "out of memory",
        "buffer too small for the state blob",
        "state blob truncated",
        "not a detector state blob",
        "unknown state blob version",
        "state blob checksum mismatch",
        "state blob fields inconsistent",
    };
    if ((unsigned)err >= sizeof texts / sizeof texts[0])
        return "unknown error";
    return texts[err];
}

// ---------------------------------------------------------------------------
//  State blob: fixed little-endian layout, written and read field by field
//  so that it does not depend on struct padding or host byte order.

typedef struct {
    uint8_t *p;
    size_t left;
} s_writer_t;

typedef struct {
    const uint8_t *p;
    size_t left;
} s_reader_t;

static void
s_put_u64(s_writer_t *w, uint64_t v, int bytes)
{
    assert(w->left >= (size_t)bytes); // sized by blob_size beforehand
    for (int i = 0; i < bytes; i++)
        *w->p++ = (uint8_t)(v >> (8 * i));
    w->left -= (size_t)bytes;
}

static void
s_put_f64(s_writer_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    s_put_u64(w, bits, 8);
}

static bool
s_get_u64(s_reader_t *r, uint64_t *v, int bytes)
{
    if (r->left < (size_t)bytes)
        return false;
    *v = 0;
    for (int i = 0; i < bytes; i++)
        *v |= (uint64_t)*r->p++ << (8 * i);
    r->left -= (size_t)bytes;
    return true;
}

static bool
s_get_u32(s_reader_t *r, uint32_t *v)
{
    uint64_t x;
    if (!s_get_u64(r, &x, 4))
        return false;
    *v = (uint32_t)x;
    return true;
}

static bool
s_get_f64(s_reader_t *r, double *v)
{
    uint64_t bits;
    if (!s_get_u64(r, &bits, 8))
        return false;
    memcpy(v, &bits, sizeof bits);
    return true;
}

//  FNV-1a, 64 bits: enough to catch a damaged file, not an adversary.
static uint64_t
s_checksum(const uint8_t *p, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

//  magic, version, length, cfg (4+4+8+8), counters (8+8+4+4), arrays, sum
#define S_BLOB_FIXED (4 + 4 + 8 + 24 + 24 + 8)

static size_t
s_blob_size(uint32_t history)
{
    return S_BLOB_FIXED + (size_t)history * 8 * (1 + S_STREAMS + S_NVIEWS) +
           S_NVIEWS * 8;
}

size_t
predictor_detector_blob_size(const predictor_detector_t *self)
{
    assert(self);
    return s_blob_size(self->cfg.history);
}

predictor_detector_err_t
predictor_detector_save(const predictor_detector_t *self, void *buf, size_t cap,
                        size_t *len_out)
{
    assert(self);
    assert(buf);
    size_t len = s_blob_size(self->cfg.history);
    if (cap < len)
        return PREDICTOR_DETECTOR_ESPACE;
    s_writer_t w = {buf, len};
    uint32_t h = self->cfg.history;
    s_put_u64(&w, PREDICTOR_DETECTOR_MAGIC, 4);
    s_put_u64(&w, PREDICTOR_DETECTOR_VERSION, 4);
    s_put_u64(&w, len, 8);
    s_put_u64(&w, h, 4);
    s_put_u64(&w, self->cfg.refractory, 4);
    s_put_f64(&w, self->cfg.alpha);
    s_put_u64(&w, (uint64_t)self->cfg.season_ms, 8);
    s_put_u64(&w, self->samples, 8);
    s_put_u64(&w, self->since_alert, 8);
    s_put_u64(&w, self->head, 4);
    s_put_u64(&w, self->count, 4);
    for (uint32_t i = 0; i < h; i++)
        s_put_u64(&w, (uint64_t)self->ts[i], 8);
    for (int s = 0; s < S_STREAMS; s++)
        for (uint32_t i = 0; i < h; i++)
            s_put_f64(&w, self->stream[s][i]);
    for (size_t v = 0; v < S_NVIEWS; v++) {
        s_put_u64(&w, self->view[v].head, 4);
        s_put_u64(&w, self->view[v].count, 4);
        for (uint32_t i = 0; i < h; i++)
            s_put_f64(&w, self->view[v].ring[i]);
    }
    s_put_u64(&w, s_checksum(buf, len - 8), 8);
    *len_out = len;
    return PREDICTOR_DETECTOR_OK;
}

//  Check the envelope (length, magic, version, checksum) and read the
//  configuration. On success the reader stands at the counters.
static predictor_detector_err_t
s_load_header(s_reader_t *r, predictor_detector_cfg_t *cfg)
{
    const uint8_t *start = r->p;
    size_t len = r->left;
    uint32_t magic, version;
    uint64_t declared, season;
    if (!s_get_u32(r, &magic) || !s_get_u32(r, &version) ||
        !s_get_u64(r, &declared, 8))
        return PREDICTOR_DETECTOR_ETRUNC;
    if (magic != PREDICTOR_DETECTOR_MAGIC)
        return PREDICTOR_DETECTOR_EMAGIC;
    if (version != PREDICTOR_DETECTOR_VERSION)
        return PREDICTOR_DETECTOR_EVERSION;
    if (declared != len || len < S_BLOB_FIXED)
        return PREDICTOR_DETECTOR_ETRUNC;
    uint64_t sum;
    s_reader_t tail = {start + len - 8, 8};
    if (!s_get_u64(&tail, &sum, 8) || sum != s_checksum(start, len - 8))
        return PREDICTOR_DETECTOR_ECHECKSUM;
    if (!s_get_u32(r, &cfg->history) || !s_get_u32(r, &cfg->refractory) ||
        !s_get_f64(r, &cfg->alpha) || !s_get_u64(r, &season, 8))
        return PREDICTOR_DETECTOR_ETRUNC;
    cfg->season_ms = (int64_t)season;
    if (!s_cfg_valid(cfg) || s_blob_size(cfg->history) != len)
        return PREDICTOR_DETECTOR_ESTATE;
    return PREDICTOR_DETECTOR_OK;
}

//  A ring fills from slot 0, so until it is full its head equals its count.
static bool
s_ring_valid(uint32_t head, uint32_t count, uint32_t h)
{
    return count <= h && head < h && (count == h || head == count);
}

//  Read one view's ring and rebuild its sorted copy.
static bool
s_load_view(s_reader_t *r, s_window_t *w, uint32_t h)
{
    if (!s_get_u32(r, &w->head) || !s_get_u32(r, &w->count) ||
        !s_ring_valid(w->head, w->count, h))
        return false;
    for (uint32_t i = 0; i < h; i++)
        if (!s_get_f64(r, &w->ring[i]) ||
            (i < w->count && !isfinite(w->ring[i])))
            return false;
    memcpy(w->sorted, w->ring, w->count * sizeof(double));
    qsort(w->sorted, w->count, sizeof(double), s_cmp_double);
    return true;
}

static bool
s_load_state(s_reader_t *r, predictor_detector_t *self)
{
    uint32_t h = self->cfg.history;
    uint64_t bits;
    if (!s_get_u64(r, &self->samples, 8) ||
        !s_get_u64(r, &self->since_alert, 8) || !s_get_u32(r, &self->head) ||
        !s_get_u32(r, &self->count) ||
        !s_ring_valid(self->head, self->count, h))
        return false;
    for (uint32_t i = 0; i < h; i++) {
        if (!s_get_u64(r, &bits, 8))
            return false;
        self->ts[i] = (int64_t)bits;
    }
    for (int s = 0; s < S_STREAMS; s++)
        for (uint32_t i = 0; i < h; i++)
            if (!s_get_f64(r, &self->stream[s][i]))
                return false;
    for (uint32_t i = 0; i < self->count; i++)
        if (!isfinite(self->stream[S_STREAM_LEVEL][i]))
            return false;
    for (size_t v = 0; v < S_NVIEWS; v++)
        if (!s_load_view(r, &self->view[v], h))
            return false;
    return true;
}

predictor_detector_t *
predictor_detector_load(const void *buf, size_t len,
                        predictor_detector_err_t *why)
{
    predictor_detector_t *self = NULL;
    predictor_detector_cfg_t cfg;
    s_reader_t r = {buf, buf ? len : 0};
    predictor_detector_err_t err = s_load_header(&r, &cfg);
    if (err != PREDICTOR_DETECTOR_OK)
        goto out;
    self = predictor_detector_new(&cfg, &err);
    if (!self)
        goto out;
    if (!s_load_state(&r, self)) {
        err = PREDICTOR_DETECTOR_ESTATE;
        predictor_detector_destroy(&self);
    }
out:
    if (why)
        *why = err;
    return self;
}
