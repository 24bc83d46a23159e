/* form.c: urlencoded and multipart/form-data bodies into name/value fields
 * (see form.h). */
#include "form.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *copy_bytes(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out) {
        if (len)
            memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

int nmt_form_add(nmt_form *f, const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (f->n >= NMT_FORM_MAX_FIELDS)
        return -1;
    nmt_form_field *field = &f->fields[f->n];
    field->name = copy_bytes(name, name_len);
    field->value = copy_bytes(value, value_len);
    if (!field->name || !field->value) {
        free(field->name);
        free(field->value);
        return -1;
    }
    field->value_len = value_len;
    f->n++;
    return 0;
}

void nmt_form_free(nmt_form *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->fields[i].name);
        free(f->fields[i].value);
    }
    f->n = 0;
}

const nmt_form_field *nmt_form_get(const nmt_form *f, const char *name, int *count)
{
    const nmt_form_field *first = NULL;
    int n = 0;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0) {
            if (!first)
                first = &f->fields[i];
            n++;
        }
    if (count)
        *count = n;
    return first;
}

/* ---- application/x-www-form-urlencoded -------------------------------- */

/* Decodes s[0..len) into out (at least len bytes); returns the decoded
 * length, or -1 on a bad %-escape. */
static long url_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < len ? nmt_hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < len ? nmt_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (long)o;
}

int nmt_form_parse_urlencoded(nmt_form *f, const char *body, size_t len, char *err, size_t err_cap)
{
    char *buf = malloc(len + 1);
    if (!buf)
        return fail(err, err_cap, "out of memory");
    size_t at = 0;
    int rc = 0;
    while (at < len && rc == 0) {
        const char *amp = memchr(body + at, '&', len - at);
        size_t end = amp ? (size_t)(amp - body) : len;
        const char *pair = body + at;
        size_t pair_len = end - at;
        at = end + 1;
        if (pair_len == 0)
            continue; /* "a=1&&b=2" */
        const char *eq = memchr(pair, '=', pair_len);
        size_t name_len = eq ? (size_t)(eq - pair) : pair_len;
        long nl = url_decode(pair, name_len, buf);
        if (nl < 0) {
            rc = fail(err, err_cap, "a bad %%-escape in a field name");
            break;
        }
        char *name = copy_bytes(buf, (size_t)nl);
        long vl = eq ? url_decode(eq + 1, pair_len - name_len - 1, buf) : 0;
        if (!name) {
            rc = fail(err, err_cap, "out of memory");
        } else if (vl < 0) {
            rc = fail(err, err_cap, "a bad %%-escape in the value of \"%.32s\"", name);
        } else if (nmt_form_add(f, name, (size_t)nl, buf, (size_t)vl)) {
            rc = f->n >= NMT_FORM_MAX_FIELDS ? fail(err, err_cap, "more than %d fields", NMT_FORM_MAX_FIELDS)
                                             : fail(err, err_cap, "out of memory");
        }
        free(name);
    }
    free(buf);
    return rc;
}

/* ---- multipart/form-data ---------------------------------------------- */

/* The value of parameter key in a header value "type; key=value; ..." (a
 * quoted string or a token) into out; 0 if found and it fits. */
static int header_param(const char *value, size_t len, const char *key, char *out, size_t cap, size_t *out_len)
{
    size_t i = 0, klen = strlen(key);
    while (i < len) {
        const char *semi = memchr(value + i, ';', len - i);
        if (!semi)
            return -1;
        i = (size_t)(semi - value) + 1;
        while (i < len && (value[i] == ' ' || value[i] == '\t'))
            i++;
        if (len - i > klen && strncasecmp(value + i, key, klen) == 0 && value[i + klen] == '=') {
            i += klen + 1;
            size_t o = 0;
            if (i < len && value[i] == '"') {
                for (i++; i < len && value[i] != '"'; i++) {
                    if (value[i] == '\\' && i + 1 < len)
                        i++;
                    if (o + 1 >= cap)
                        return -1;
                    out[o++] = value[i];
                }
                if (i >= len)
                    return -1; /* unterminated quote */
            } else {
                for (; i < len && value[i] != ';' && value[i] != ' ' && value[i] != '\t'; i++) {
                    if (o + 1 >= cap)
                        return -1;
                    out[o++] = value[i];
                }
            }
            out[o] = '\0';
            *out_len = o;
            return 0;
        }
    }
    return -1;
}

/* The first occurrence of needle in hay[0..len), or NULL. */
static const char *find_bytes(const char *hay, size_t len, const char *needle, size_t nlen)
{
    if (nlen == 0 || len < nlen)
        return NULL;
    for (const char *p = hay; (p = memchr(p, needle[0], len - (size_t)(p - hay) - nlen + 1)) != NULL; p++)
        if (memcmp(p, needle, nlen) == 0)
            return p;
    return NULL;
}

/* Reads one part's headers at body[*at..len): sets the field name; *at moves
 * past the blank line. */
static int part_headers(const char *body, size_t len, size_t *at, char *name, size_t name_cap, size_t *name_len,
                        char *err, size_t err_cap)
{
    int have_name = 0;
    for (;;) {
        const char *eol = find_bytes(body + *at, len - *at, "\r\n", 2);
        if (!eol)
            return fail(err, err_cap, "a part's headers do not end");
        size_t line_len = (size_t)(eol - (body + *at));
        const char *line = body + *at;
        *at += line_len + 2;
        if (line_len == 0)
            break;
        static const char cd[] = "content-disposition:";
        if (line_len > sizeof cd - 1 && strncasecmp(line, cd, sizeof cd - 1) == 0) {
            const char *v = line + sizeof cd - 1;
            size_t vlen = line_len - (sizeof cd - 1);
            while (vlen && (*v == ' ' || *v == '\t'))
                v++, vlen--;
            if (vlen < 9 || strncasecmp(v, "form-data", 9) != 0)
                return fail(err, err_cap, "a part's Content-Disposition is not form-data");
            if (header_param(v, vlen, "name", name, name_cap, name_len))
                return fail(err, err_cap, "a part has no name (or one longer than %zu bytes)", name_cap - 1);
            have_name = 1;
        }
    }
    return have_name ? 0 : fail(err, err_cap, "a part has no Content-Disposition: form-data; name=...");
}

int nmt_form_parse_multipart(nmt_form *f, const char *content_type, const char *body, size_t len, char *err,
                             size_t err_cap)
{
    char boundary[80], delim[84];
    size_t blen;
    if (!content_type || header_param(content_type, strlen(content_type), "boundary", boundary, sizeof boundary, &blen) ||
        blen == 0 || blen > 70)
        return fail(err, err_cap, "multipart/form-data needs a boundary of 1 to 70 characters");
    int dlen = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    /* the first delimiter: at the very start, or after a preamble line */
    size_t at;
    if (len >= (size_t)dlen - 2 && memcmp(body, delim + 2, (size_t)dlen - 2) == 0) {
        at = (size_t)dlen - 2;
    } else {
        const char *d = find_bytes(body, len, delim, (size_t)dlen);
        if (!d)
            return fail(err, err_cap, "the body has no multipart delimiter for its boundary");
        at = (size_t)(d - body) + (size_t)dlen;
    }
    for (;;) {
        /* after a delimiter: "--" ends the body, else padding and CRLF */
        if (len - at >= 2 && body[at] == '-' && body[at + 1] == '-')
            return 0;
        while (at < len && (body[at] == ' ' || body[at] == '\t'))
            at++;
        if (len - at < 2 || body[at] != '\r' || body[at + 1] != '\n')
            return fail(err, err_cap, "a multipart delimiter is not followed by a line break");
        at += 2;
        char name[128];
        size_t name_len;
        if (part_headers(body, len, &at, name, sizeof name, &name_len, err, err_cap))
            return -1;
        const char *end = find_bytes(body + at, len - at, delim, (size_t)dlen);
        if (!end)
            return fail(err, err_cap, "the part \"%.32s\" has no closing delimiter", name);
        size_t value_len = (size_t)(end - (body + at));
        if (nmt_form_add(f, name, name_len, body + at, value_len))
            return f->n >= NMT_FORM_MAX_FIELDS ? fail(err, err_cap, "more than %d fields", NMT_FORM_MAX_FIELDS)
                                               : fail(err, err_cap, "out of memory");
        at += value_len + (size_t)dlen;
    }
}
