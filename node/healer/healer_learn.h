/*  healer_learn - what the healer has learned about which fix works for
    which error pattern. Per (pattern, fix) it keeps successes and failures,
    read as a Beta(successes + 1, failures + 1) posterior, plus the same per
    (error class, fix) as weak evidence for patterns never seen before. The
    order of candidates is chosen by Thompson sampling with an injected
    random source, so tests are deterministic. Bounded table, least recently
    used entry evicted. Single-threaded. */
#ifndef HEALER_LEARN_H
#define HEALER_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALER_LEARN_KEY_MAX 320   // bytes of a pattern key
#define HEALER_LEARN_NAME_MAX 64   // bytes of a class or fix name
#define HEALER_LEARN_DECAY_AT 200  // successes + failures before halving
#define HEALER_LEARN_MAX_RANK 32   // candidates one rank call orders

typedef struct healer_learn healer_learn_t;

/*  Uniform 64-bit random values (same shape as hb_rand_fn). */
typedef uint64_t(healer_learn_rand_fn)(void *arg);

/*  The generator the healer gives healer_learn_new: splitmix64 over the
    uint64_t that `state` points to (any seed). Not for secrets. */
uint64_t healer_learn_splitmix(void *state);

/*  One learned record, as listed for persistence. `pattern` is "" for the
    per-class aggregate of `fix`. Strings borrowed until the next change. */
typedef struct {
    const char *error_class;
    const char *pattern;
    const char *fix;
    uint32_t successes;
    uint32_t failures;
} healer_learn_entry_t;

/*  A table of at most `cap` records (>= 2); `rand(arg)` drives sampling.
    NULL on bad arguments or out of memory. Caller destroys. */
healer_learn_t *
healer_learn_new(uint32_t cap, healer_learn_rand_fn *rand, void *arg);

void
healer_learn_destroy(healer_learn_t **self_p);

/*  Record one outcome of `fix` for `pattern` (a key such as the error class
    and template) of class `error_class`. Strings longer than the maxima
    above are cut. When successes + failures reach HEALER_LEARN_DECAY_AT both
    are halved, so old evidence fades and a changed world is learned again. */
void
healer_learn_record(healer_learn_t *self, const char *error_class,
                    const char *pattern, const char *fix, bool success);

/*  Replace a record's counts (restoring persisted learning). `pattern` ""
    sets the class aggregate. */
void
healer_learn_set(healer_learn_t *self, const char *error_class,
                 const char *pattern, const char *fix, uint32_t successes,
                 uint32_t failures);

/*  Counts for (pattern, fix), or for the class aggregate when `pattern` is
    ""; false (and zeros) when nothing is known. */
bool
healer_learn_get(const healer_learn_t *self, const char *error_class,
                 const char *pattern, const char *fix, uint32_t *successes,
                 uint32_t *failures);

/*  Order `n` candidate fixes (n <= HEALER_LEARN_MAX_RANK, given in catalog
    order) for `pattern` of class `error_class`: order[0] is the index of
    the one to try first. A fix with evidence gets a draw from its
    posterior (pattern counts plus a quarter of the class's other counts);
    a fix with no evidence at all scores its prior mean, so before any
    learning the catalog order is kept. */
void
healer_learn_rank(healer_learn_t *self, const char *error_class,
                  const char *pattern, const char *const *fixes, uint32_t n,
                  uint32_t *order);

/*  Move the records of pattern `from` to `to` (adding counts when `to`
    has some already): the template of a pattern was generalised. */
void
healer_learn_rename(healer_learn_t *self, const char *from, const char *to);

/*  Records held, and record number i (any order) for persistence. */
uint32_t
healer_learn_count(const healer_learn_t *self);
bool
healer_learn_entry(const healer_learn_t *self, uint32_t i,
                   healer_learn_entry_t *out);

/*  Records evicted so far to stay within the cap. */
uint64_t
healer_learn_evictions(const healer_learn_t *self);

/*  One draw from Beta(a, b), a, b > 0, using `rand(arg)`. */
double
healer_learn_beta(healer_learn_rand_fn *rand, void *arg, double a, double b);

#endif
