/*  healer_catalog - the fix catalog: which candidate fixes to try for which
    error class and error text. Parsed from a small line-based file (format
    in docs/fix-catalog.md, default in fixes.conf, also compiled in so a node
    with no file still heals). The parser is strict: the first problem ends
    the parse with "file:line: what is wrong". Used by the healer's
    orchestrator; read-only once loaded, single-threaded. */
#ifndef HEALER_CATALOG_H
#define HEALER_CATALOG_H

#include "proto_msg.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALER_CATALOG_MAX_FIXES 256  // fixes in one catalog
#define HEALER_CATALOG_MAX_LINE 512   // bytes in one line, newline excluded
#define HEALER_CATALOG_MAX_FILE (1u << 20) // bytes in a catalog file
#define HEALER_CATALOG_GLOB_MAX 256   // bytes in a template glob

/*  One step of a fix, ready to copy into a proto_fix_t. String values live
    in `text` (value.u.s points at it). */
typedef struct {
    proto_step_op_t op;
    char target[PROTO_MAX_NAME + 1];
    proto_value_t value;
    char text[PROTO_MAX_NAME + 1];
} healer_step_t;

typedef struct {
    char name[PROTO_MAX_NAME + 1];           // "raise_timeout"
    char error_class[PROTO_MAX_CLASS + 1];   // "TimeoutError" or "*"
    char glob[HEALER_CATALOG_GLOB_MAX + 1];  // text glob, "" = any text
    healer_step_t steps[PROTO_MAX_STEPS];
    uint32_t n_steps;
    uint32_t line;                           // where it was defined
} healer_fix_t;

typedef struct healer_catalog healer_catalog_t;

/*  Parse catalog text `text` of `len` bytes; `origin` names it in errors.
    On failure returns NULL and writes "origin:line: reason" into err
    (errlen bytes, always terminated) when err is not NULL. Caller
    destroys. */
healer_catalog_t *
healer_catalog_parse(const char *text, size_t len, const char *origin,
                     char *err, size_t errlen);

/*  Read and parse the file at `path` (at most HEALER_CATALOG_MAX_FILE
    bytes). Same error convention as healer_catalog_parse. */
healer_catalog_t *
healer_catalog_load(const char *path, char *err, size_t errlen);

/*  The compiled-in default catalog (the same fixes as fixes.conf). */
healer_catalog_t *
healer_catalog_builtin(void);

/*  The compiled-in default catalog text. */
const char *
healer_catalog_builtin_text(void);

void
healer_catalog_destroy(healer_catalog_t **self_p);

uint32_t
healer_catalog_count(const healer_catalog_t *self);

/*  Fix number i (file order), or NULL past the end. Borrowed. */
const healer_fix_t *
healer_catalog_fix(const healer_catalog_t *self, uint32_t i);

/*  The fix called `name`, or NULL. Borrowed. */
const healer_fix_t *
healer_catalog_find(const healer_catalog_t *self, const char *name);

/*  Candidates for an error of class `error_class` whose text is `text`
    (the raw text or its template; either may be NULL): fixes whose class
    equals it or is "*", and whose glob (if any) matches `text` or
    `template_text`. Writes up to `cap` borrowed pointers in file order and
    returns how many. */
uint32_t
healer_catalog_candidates(const healer_catalog_t *self,
                          const char *error_class, const char *text,
                          const char *template_text,
                          const healer_fix_t **out, uint32_t cap);

/*  Shell-style match of `glob` ('*' any run, '?' one byte) against `s`. */
bool
healer_catalog_glob(const char *glob, const char *s);

/*  Render a fix's steps as text ("mul timeout_ms 2; set parser streaming")
    into buf; returns buf. */
const char *
healer_catalog_describe(const healer_fix_t *fix, char *buf, size_t len);

#endif
