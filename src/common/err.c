/* err.c: filling nmt_err.  Pure; thread-safe (writes only the caller's struct). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

nmt_code nmt_err_set(nmt_err *err, nmt_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

nmt_code nmt_err_prefix(nmt_err *err, const char *prefix)
{
    if (!err)
        return NMT_ERR_INVALID;
    char tmp[sizeof err->msg];
    size_t plen = strlen(prefix);
    if (plen > sizeof tmp - 3)
        plen = sizeof tmp - 3;
    memcpy(tmp, prefix, plen);
    memcpy(tmp + plen, ": ", 2);
    size_t room = sizeof tmp - plen - 3, mlen = strnlen(err->msg, room);
    memcpy(tmp + plen + 2, err->msg, mlen);
    tmp[plen + 2 + mlen] = '\0';
    memcpy(err->msg, tmp, sizeof tmp);
    return err->code;
}

const char *nmt_code_name(nmt_code code)
{
    switch (code) {
    case NMT_OK: return "ok";
    case NMT_ERR_IO: return "io";
    case NMT_ERR_FORMAT: return "format";
    case NMT_ERR_INVALID: return "invalid";
    case NMT_ERR_TOO_LONG: return "too_long";
    case NMT_ERR_UNSUPPORTED: return "unsupported";
    case NMT_ERR_NOMEM: return "nomem";
    case NMT_ERR_BUSY: return "busy";
    case NMT_ERR_CLOSED: return "closed";
    }
    return "unknown";
}
