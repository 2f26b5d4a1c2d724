/*  hb_hash.h - FNV-1a hashing of strings and bytes for in-memory tables.

    Tables key on several strings at once (agent + operation + class), so
    callers chain hb_hash*_str with hb_hash*_sep between parts: the
    separator byte can occur in no id, which keeps ("ab","c") and
    ("a","bc") apart.  Not for adversarial collision resistance. */

#ifndef HB_HASH_H
#define HB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HB_HASH32_BASIS 2166136261u
#define HB_HASH64_BASIS UINT64_C(14695981039346656037)

static inline uint32_t
hb_hash32_str(uint32_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static inline uint32_t
hb_hash32_sep(uint32_t h)
{
    return (h ^ 0xffu) * 16777619u;
}

static inline uint64_t
hb_hash64_bytes(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static inline uint64_t
hb_hash64_str(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    return h;
}

#endif
