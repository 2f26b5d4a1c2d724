/*  cli_json.c - strict JSON string and number output (see cli_json.h). */

#include "cli_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t
cli_json_utf8_len(const unsigned char *s, size_t left)
{
    if (left == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the 2nd byte
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; // below is an overlong encoding
        else if (c == 0xED)
            hi = 0x9F; // above are UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; // overlong
        else if (c == 0xF4)
            hi = 0x8F; // beyond U+10FFFF
    } else
        return 0; // continuation byte, C0/C1 overlong lead, or F5..FF
    if (left < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void
cli_json_strn(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            // \n, \t etc. could use short forms, but \u00XX is always valid
            // and DEL is escaped too so terminals showing the JSON stay sane
            static const char esc[] = {['\n'] = 'n',
                                       ['\r'] = 'r',
                                       ['\t'] = 't',
                                       ['\b'] = 'b',
                                       ['\f'] = 'f'};
            if (c < sizeof esc && esc[c])
                fprintf(out, "\\%c", esc[c]);
            else
                fprintf(out, "\\u%04x", c);
            i++;
        } else {
            size_t n = cli_json_utf8_len(p + i, len - i);
            if (n == 0) {
                fputs("\\ufffd", out); // one replacement per bad byte
                i++;
            } else {
                fwrite(p + i, 1, n, out);
                i += n;
            }
        }
    }
    fputc('"', out);
}

void
cli_json_str(FILE *out, const char *s)
{
    if (!s)
        fputs("null", out);
    else
        cli_json_strn(out, s, strlen(s));
}

void
cli_json_double(FILE *out, double value)
{
    if (!isfinite(value)) {
        fputs("null", out);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", value);
    if (strtod(buf, NULL) != value)
        snprintf(buf, sizeof buf, "%.17g", value);
    fputs(buf, out);
}
