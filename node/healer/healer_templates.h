/*  healer_templates: the healer's online log-template miner. It turns error
    texts into templates ("connection to <*> refused after <*> ms") and gives
    every template a stable group id, so the healer can count and match kinds
    of failure instead of individual messages. `healbus fingerprint` is its
    command-line face. Single-threaded: one miner per role, no locks. Depends
    only on libc. How it works: docs/fingerprint.md. */
#ifndef HEALER_TEMPLATES_H
#define HEALER_TEMPLATES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct healer_templates healer_templates_t;

/*  Limits and the one tuning knob. Zero in a field means "the default"; the
    defaults are the values measured in docs/fingerprint.md. */
typedef struct {
    // Live templates; when a new one needs room the least recently used
    // is evicted (default 4096).
    size_t max_groups;
    // Tokens kept per line; the rest fold into a trailing "<*>" (128).
    size_t max_tokens;
    // Bytes read per line; the rest is ignored (4096).
    size_t max_line_bytes;
    // Share of a template's tokens a line must repeat to join it, in
    // (0, 1] (HEALER_TEMPLATES_SIMILARITY).
    double similarity;
} healer_templates_cfg_t;

#define HEALER_TEMPLATES_MAX_GROUPS 4096
#define HEALER_TEMPLATES_MAX_TOKENS 128
#define HEALER_TEMPLATES_MAX_LINE_BYTES 4096
#define HEALER_TEMPLATES_SIMILARITY 0.95
// Hard ceilings on the fields above, so a config cannot ask for absurd memory.
#define HEALER_TEMPLATES_GROUPS_CEILING (1u << 20)
#define HEALER_TEMPLATES_TOKENS_CEILING 1024
#define HEALER_TEMPLATES_LINE_CEILING 65536

// Returned by the lookups for "no such group" (never a valid id).
#define HEALER_TEMPLATES_NONE UINT32_MAX

/*  Create a miner. `cfg` may be NULL for the defaults; fields above their
    ceilings, or a similarity outside (0, 1], make it return NULL, as does
    running out of memory. Caller destroys. */
healer_templates_t *healer_templates_new(const healer_templates_cfg_t *cfg);

/*  Free the miner and write NULL to *self_p. Accepts NULL and *self_p NULL. */
void healer_templates_destroy(healer_templates_t **self_p);

/*  Learn one message of `len` bytes (any bytes: NULs and control bytes count
    as spaces, bytes past max_line_bytes are ignored) and return the id of its
    group. Ids are never reused for another template while their group lives,
    and a group keeps its id when its template is generalised. Returns
    HEALER_TEMPLATES_NONE only if a template could not be allocated. No
    allocation unless the message starts or generalises a group. */
uint32_t healer_templates_add(healer_templates_t *self, const char *text,
                              size_t len);

/*  The template of group `id`, tokens separated by one space, variable parts
    as "<*>"; NULL if the id is unknown or was evicted. Borrowed until the next
    call that changes the miner. */
const char *healer_templates_template(const healer_templates_t *self,
                                      uint32_t id);

/*  Messages that group `id` has absorbed (0 if unknown). */
uint64_t healer_templates_hits(const healer_templates_t *self, uint32_t id);

// Live groups.
size_t healer_templates_count(const healer_templates_t *self);

// Groups evicted so far because max_groups was reached.
uint64_t healer_templates_evictions(const healer_templates_t *self);

/*  Write every live template to `out` as text, least recently used first:
    a header line, then "<id>\t<hits>\t<template>\n" per group. Returns 0, or
    -1 if a write failed (errno is left as stdio set it). */
int healer_templates_save(const healer_templates_t *self, FILE *out);

/*  Read what healer_templates_save wrote into a new miner made with `cfg`
    (NULL = defaults). The input is untrusted: on any malformed line, duplicate
    id or exceeded limit it returns NULL and, if `err` is not NULL, puts a
    one-line reason such as "line 3: duplicate id 7" in err (errlen bytes,
    always terminated). Caller destroys. */
healer_templates_t *healer_templates_load(FILE *in,
                                          const healer_templates_cfg_t *cfg,
                                          char *err, size_t errlen);

#endif
