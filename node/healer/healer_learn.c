/*  healer_learn.c - Beta posteriors per (pattern, fix) and Thompson
    sampling among candidates (see healer_learn.h). */

#include "healer_learn.h"
#include "hb_hash.h"
#include "hb_str.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_NIL UINT32_MAX

typedef struct {
    char error_class[HEALER_LEARN_NAME_MAX + 1];
    char pattern[HEALER_LEARN_KEY_MAX + 1]; // "" = class aggregate
    char fix[HEALER_LEARN_NAME_MAX + 1];
    uint32_t successes;
    uint32_t failures;
    uint64_t used;  // LRU stamp
    uint32_t next;  // hash chain
    bool live;
} s_rec_t;

struct healer_learn {
    s_rec_t *recs;        // owned, cap of them
    uint32_t *buckets;    // owned, n_buckets heads
    uint32_t cap;
    uint32_t n_buckets;   // power of two
    uint32_t count;
    uint64_t clock;       // LRU stamp source
    uint64_t evictions;
    healer_learn_rand_fn *rand;
    void *rand_arg;       // borrowed
};

//  FNV-1a over the key (the pattern, or the class for an aggregate) and fix.
static uint32_t
s_hash(const char *pattern, const char *fix)
{
    uint32_t h = hb_hash32_sep(hb_hash32_str(HB_HASH32_BASIS, pattern));
    return hb_hash32_str(h, fix);
}

uint64_t
healer_learn_splitmix(void *state)
{
    uint64_t *s = state;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

healer_learn_t *
healer_learn_new(uint32_t cap, healer_learn_rand_fn *rand, void *arg)
{
    if (cap < 2 || cap > (1u << 24) || !rand)
        return NULL;
    healer_learn_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = cap;
    self->n_buckets = 1;
    while (self->n_buckets < cap * 2)
        self->n_buckets <<= 1;
    self->recs = calloc(cap, sizeof *self->recs);
    self->buckets = malloc(self->n_buckets * sizeof *self->buckets);
    if (!self->recs || !self->buckets) {
        healer_learn_destroy(&self);
        return NULL;
    }
    for (uint32_t i = 0; i < self->n_buckets; i++)
        self->buckets[i] = S_NIL;
    self->rand = rand;
    self->rand_arg = arg;
    return self;
}

void
healer_learn_destroy(healer_learn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->recs);
    free((*self_p)->buckets);
    free(*self_p);
    *self_p = NULL;
}

static const char *
s_key(const s_rec_t *r)
{
    return r->pattern[0] ? r->pattern : r->error_class;
}

//  Key strings are compared after cutting them as they were stored. A
//  pattern record is found by pattern and fix; an aggregate (pattern "")
//  by class and fix.
static s_rec_t *
s_find(const healer_learn_t *self, const char *error_class,
       const char *pattern, const char *fix)
{
    char p[HEALER_LEARN_KEY_MAX + 1], c[HEALER_LEARN_NAME_MAX + 1];
    char f[HEALER_LEARN_NAME_MAX + 1];
    hb_str_copy(p, pattern, HEALER_LEARN_KEY_MAX);
    hb_str_copy(c, error_class, HEALER_LEARN_NAME_MAX);
    hb_str_copy(f, fix, HEALER_LEARN_NAME_MAX);
    const char *key = p[0] ? p : c;
    uint32_t i = self->buckets[s_hash(key, f) & (self->n_buckets - 1)];
    while (i != S_NIL) {
        s_rec_t *r = &self->recs[i];
        if (strcmp(r->pattern, p) == 0 && strcmp(r->fix, f) == 0 &&
            (p[0] || strcmp(r->error_class, c) == 0))
            return r;
        i = r->next;
    }
    return NULL;
}

static void
s_unlink(healer_learn_t *self, uint32_t idx)
{
    s_rec_t *r = &self->recs[idx];
    uint32_t *link = &self->buckets[s_hash(s_key(r), r->fix) &
                                    (self->n_buckets - 1)];
    while (*link != idx)
        link = &self->recs[*link].next;
    *link = r->next;
    r->live = false;
    self->count--;
}

//  A free slot: an unused one, or the least recently used record.
static uint32_t
s_slot(healer_learn_t *self)
{
    uint32_t victim = 0;
    for (uint32_t i = 0; i < self->cap; i++) {
        if (!self->recs[i].live)
            return i;
        if (self->recs[i].used < self->recs[victim].used)
            victim = i;
    }
    s_unlink(self, victim);
    self->evictions++;
    return victim;
}

static s_rec_t *
s_get(healer_learn_t *self, const char *error_class, const char *pattern,
      const char *fix)
{
    s_rec_t *r = s_find(self, error_class, pattern, fix);
    if (!r) {
        uint32_t idx = s_slot(self);
        r = &self->recs[idx];
        memset(r, 0, sizeof *r);
        hb_str_copy(r->error_class, error_class, HEALER_LEARN_NAME_MAX);
        hb_str_copy(r->pattern, pattern, HEALER_LEARN_KEY_MAX);
        hb_str_copy(r->fix, fix, HEALER_LEARN_NAME_MAX);
        uint32_t *head = &self->buckets[s_hash(s_key(r), r->fix) &
                                        (self->n_buckets - 1)];
        r->next = *head;
        *head = idx;
        r->live = true;
        self->count++;
    }
    r->used = ++self->clock;
    return r;
}

static void
s_bump(s_rec_t *r, bool success)
{
    if (success)
        r->successes++;
    else
        r->failures++;
    if (r->successes + r->failures >= HEALER_LEARN_DECAY_AT) {
        r->successes = (r->successes + 1) / 2;
        r->failures = (r->failures + 1) / 2;
    }
}

void
healer_learn_record(healer_learn_t *self, const char *error_class,
                    const char *pattern, const char *fix, bool success)
{
    assert(self && pattern && fix);
    if (*pattern)
        s_bump(s_get(self, error_class, pattern, fix), success);
    s_bump(s_get(self, error_class, "", fix), success);
}

void
healer_learn_set(healer_learn_t *self, const char *error_class,
                 const char *pattern, const char *fix, uint32_t successes,
                 uint32_t failures)
{
    s_rec_t *r = s_get(self, error_class, pattern, fix);
    r->successes = successes;
    r->failures = failures;
}

bool
healer_learn_get(const healer_learn_t *self, const char *error_class,
                 const char *pattern, const char *fix, uint32_t *successes,
                 uint32_t *failures)
{
    const s_rec_t *r = s_find(self, error_class, pattern, fix);
    *successes = r ? r->successes : 0;
    *failures = r ? r->failures : 0;
    return r != NULL;
}

/* ------------------------------------------------------------ sampling -- */

static double
s_uniform(healer_learn_rand_fn *rand, void *arg)
{
    // 53 random bits, shifted off zero so logs stay finite.
    return ((double)(rand(arg) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double
s_normal(healer_learn_rand_fn *rand, void *arg)
{
    double u = s_uniform(rand, arg), v = s_uniform(rand, arg);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

//  Marsaglia and Tsang's method for Gamma(a, 1), a >= 1; smaller shapes
//  are boosted by one and scaled back with U^(1/a).
static double
s_gamma(healer_learn_rand_fn *rand, void *arg, double a)
{
    if (a < 1.0) {
        double u = s_uniform(rand, arg);
        return s_gamma(rand, arg, a + 1.0) * pow(u, 1.0 / a);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = s_normal(rand, arg), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = s_uniform(rand, arg);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

double
healer_learn_beta(healer_learn_rand_fn *rand, void *arg, double a, double b)
{
    double x = s_gamma(rand, arg, a), y = s_gamma(rand, arg, b);
    return x / (x + y);
}

static double
s_score(healer_learn_t *self, const char *error_class, const char *pattern,
        const char *fix, uint32_t index)
{
    uint32_t ps = 0, pf = 0, cs, cf;
    if (pattern[0])
        healer_learn_get(self, error_class, pattern, fix, &ps, &pf);
    healer_learn_get(self, error_class, "", fix, &cs, &cf);
    // The class aggregate includes this pattern's counts: subtract them.
    double os = cs > ps ? cs - ps : 0, of = cf > pf ? cf - pf : 0;
    if (ps + pf + os + of == 0)
        return 0.5 - 1e-6 * index; // no evidence: keep catalog order
    return healer_learn_beta(self->rand, self->rand_arg,
                             1.0 + ps + 0.25 * os, 1.0 + pf + 0.25 * of);
}

void
healer_learn_rank(healer_learn_t *self, const char *error_class,
                  const char *pattern, const char *const *fixes, uint32_t n,
                  uint32_t *order)
{
    assert(n <= HEALER_LEARN_MAX_RANK);
    double score[HEALER_LEARN_MAX_RANK];
    for (uint32_t i = 0; i < n; i++) {
        score[i] = s_score(self, error_class, pattern, fixes[i], i);
        // Insertion sort, best first; ties keep catalog order.
        uint32_t j = i;
        while (j > 0 && score[order[j - 1]] < score[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

void
healer_learn_rename(healer_learn_t *self, const char *from, const char *to)
{
    if (!*from || strcmp(from, to) == 0)
        return;
    for (uint32_t i = 0; i < self->cap; i++) {
        s_rec_t *r = &self->recs[i];
        if (!r->live || strncmp(r->pattern, from, HEALER_LEARN_KEY_MAX) != 0)
            continue;
        s_rec_t old = *r;
        s_unlink(self, i);
        s_rec_t *dst = s_get(self, old.error_class, to, old.fix);
        dst->successes += old.successes;
        dst->failures += old.failures;
    }
}

uint32_t
healer_learn_count(const healer_learn_t *self)
{
    return self->count;
}

bool
healer_learn_entry(const healer_learn_t *self, uint32_t i,
                   healer_learn_entry_t *out)
{
    for (uint32_t k = 0; k < self->cap; k++) {
        const s_rec_t *r = &self->recs[k];
        if (!r->live)
            continue;
        if (i-- == 0) {
            *out = (healer_learn_entry_t){r->error_class, r->pattern, r->fix,
                                          r->successes, r->failures};
            return true;
        }
    }
    return false;
}

uint64_t
healer_learn_evictions(const healer_learn_t *self)
{
    return self->evictions;
}
