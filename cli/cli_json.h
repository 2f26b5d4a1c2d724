/*  cli_json: the pieces of strict JSON that `healbus tap --json` writes,
    one value at a time to a FILE.  Strings from the bus are hostile: the
    writer escapes quotes, backslashes and control characters and replaces
    every byte that is not part of well-formed UTF-8 with U+FFFD, so each
    line it produces parses with any strict JSON reader (jq, python). */

#ifndef CLI_JSON_H
#define CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

/*  Write `s` (NUL-terminated; NULL writes null) as a quoted JSON string. */
void cli_json_str(FILE *out, const char *s);

/*  Write the `len` bytes at `s` (NULs allowed) as a quoted JSON string. */
void cli_json_strn(FILE *out, const char *s, size_t len);

/*  Write `value` as a JSON number, or null when it is NaN or infinite
    (JSON has no spelling for them).  Uses the shortest of %.15g and
    %.17g that reads back to the same double. */
void cli_json_double(FILE *out, double value);

/*  Length of the well-formed UTF-8 sequence at s[0..left), or 0 when the
    byte at `s` does not start one (overlong, surrogate, above U+10FFFF,
    truncated).  Shared with the tap's text mode, which escapes the same
    bytes differently. */
size_t cli_json_utf8_len(const unsigned char *s, size_t left);

#endif
