/*  hb_err.c - names and texts of hb_err_t codes, and the library version. */

#include "healbus.h"

static const char *const s_texts[HB_ERR_COUNT] = {
    [HB_OK] = "success",
    [HB_EINVAL] = "invalid argument",
    [HB_ENOMEM] = "out of memory",
    [HB_EIO] = "input/output or socket error",
    [HB_EFULL] = "queue full: dropped and counted",
    [HB_ETIMEOUT] = "deadline passed",
    [HB_ECLOSED] = "shutting down",
    [HB_ETRUNC] = "truncated input",
    [HB_ETYPE] = "field of the wrong type",
    [HB_ETOOBIG] = "over a size limit",
    [HB_EDEPTH] = "nested too deep",
    [HB_EMISSING] = "required field missing",
    [HB_ETRAILING] = "trailing bytes after the body",
    [HB_EVERSION] = "unsupported protocol version",
    [HB_EDUPKEY] = "duplicate map key",
    [HB_EKIND] = "unknown message kind",
    [HB_ETOPIC] = "malformed topic",
    [HB_EVALUE] = "field value out of range",
    [HB_ENOTFOUND] = "not declared or not found",
    [HB_ERANGE] = "value outside the declared bounds",
    [HB_EEXPIRED] = "expired",
    [HB_EALREADY] = "already applied",
    [HB_ENOTMINE] = "addressed to another agent",
    [HB_EFAILED] = "operation failed",
    [HB_ESYNTAX] = "syntax error",
    [HB_EEXISTS] = "already declared",
    [HB_ENOEFFECT] = "would change nothing",
};

const char *
hb_err_str(hb_err_t err)
{
    if ((int)err < 0 || err >= HB_ERR_COUNT || !s_texts[err])
        return "unknown error";
    return s_texts[err];
}

int
hb_version(void)
{
    return HB_VERSION_MAJOR * 10000 + HB_VERSION_MINOR * 100 +
           HB_VERSION_PATCH;
}
