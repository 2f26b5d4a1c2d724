/*  hb_str.h - bounded string copies into fixed fields.

    Tables keep names in fixed arrays so a peer's long string can never
    grow them; hb_str_copy cuts instead of overflowing. */

#ifndef HB_STR_H
#define HB_STR_H

#include <string.h>

/*  Copy at most `max` bytes of `src` (NULL = "") into `dst`, which must
    hold max + 1 bytes, and NUL-terminate.  Returns the length copied. */
static inline size_t
hb_str_copy(char *dst, const char *src, size_t max)
{
    size_t n = src ? strnlen(src, max) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    return n;
}

#endif
