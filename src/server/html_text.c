/* html_text.c: cutting an HTML fragment into markup and text, and the
 * character references of text (see html_text.h). */
#include "html_text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* ---- growing buffers ---------------------------------------------------- */

int nmt_html_append(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *grown = realloc(*buf, c);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = c;
    }
    if (n)
        memcpy(*buf + *len, bytes, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int nmt_html_append_escaped(char **buf, size_t *len, size_t *cap, const char *text, size_t text_len)
{
    size_t start = 0;
    for (size_t i = 0; i < text_len; i++) {
        const char *rep = text[i] == '&' ? "&amp;" : text[i] == '<' ? "&lt;" : text[i] == '>' ? "&gt;" : NULL;
        if (!rep)
            continue;
        if (nmt_html_append(buf, len, cap, text + start, i - start) ||
            nmt_html_append(buf, len, cap, rep, strlen(rep)))
            return -1;
        start = i + 1;
    }
    return nmt_html_append(buf, len, cap, text + start, text_len - start);
}

/* ---- character references ----------------------------------------------- */

static const struct { const char *name; const char *utf8; } known_refs[] = {
    {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", "\xc2\xa0"},
};

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* At s[0] == '&': the length of a named reference "&name;" (name 1..32
 * letters and digits), or 0. */
static size_t named_ref_len(const char *s, size_t len)
{
    size_t i = 1;
    while (i < len && i <= 33 && is_alnum(s[i]))
        i++;
    return i > 1 && i <= 33 && i < len && s[i] == ';' ? i + 1 : 0;
}

/* The decoded bytes of the named reference at s (length n), or NULL. */
static const char *known_ref(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof known_refs / sizeof known_refs[0]; k++)
        if (strlen(known_refs[k].name) == n - 2 && memcmp(s + 1, known_refs[k].name, n - 2) == 0)
            return known_refs[k].utf8;
    return NULL;
}

/* At s[0] == '&': a numeric reference "&#123;" / "&#x7b;" to a valid code
 * point: its length, and the code point in *cp; else 0. */
static size_t numeric_ref(const char *s, size_t len, unsigned long *cp)
{
    if (len < 4 || s[1] != '#')
        return 0;
    int hex = s[2] == 'x' || s[2] == 'X';
    size_t i = hex ? 3 : 2, digits = 0;
    unsigned long v = 0;
    for (; i < len && digits < 8; i++, digits++) {
        int d = hex ? nmt_hex_digit(s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
        if (d < 0)
            break;
        v = v * (hex ? 16 : 10) + (unsigned long)d;
    }
    if (digits == 0 || i >= len || s[i] != ';' || v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return i + 1;
}

static size_t utf8_encode(unsigned long cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *nmt_html_decode(const char *text, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1); /* a reference never decodes longer than itself */
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (text[i] == '&') {
            unsigned long cp;
            size_t n = numeric_ref(text + i, len - i, &cp);
            if (n) {
                o += utf8_encode(cp, out + o);
                i += n;
                continue;
            }
            n = named_ref_len(text + i, len - i);
            const char *utf8 = n ? known_ref(text + i, n) : NULL;
            if (utf8) {
                memcpy(out + o, utf8, strlen(utf8));
                o += strlen(utf8);
                i += n;
                continue;
            }
        }
        out[o++] = text[i++];
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- cutting ------------------------------------------------------------- */

typedef struct cutter {
    nmt_html_piece *p;
    int n, cap;
} cutter;

/* Adds [off, off + len) of the given kind, merged into the last piece when
 * that is of the same kind. */
static int add(cutter *c, size_t off, size_t len, int is_text)
{
    if (len == 0)
        return 0;
    if (c->n && c->p[c->n - 1].is_text == is_text && c->p[c->n - 1].off + c->p[c->n - 1].len == off) {
        c->p[c->n - 1].len += len;
        return 0;
    }
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        nmt_html_piece *grown = realloc(c->p, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        c->p = grown;
        c->cap = cap;
    }
    c->p[c->n++] = (nmt_html_piece){.off = off, .len = len, .is_text = is_text};
    return 0;
}

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* The first occurrence of needle (ASCII, compared without case) in
 * s[from..len), or len. */
static size_t find_nocase(const char *s, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= len; i++)
        if (strncasecmp(s + i, needle, n) == 0)
            return i;
    return len;
}

/* At s[i] == '<': the end of the markup that starts there (one past its
 * last byte; len when it does not end), or 0 when '<' starts no markup. */
static size_t markup_end(const char *s, size_t len, size_t i)
{
    if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
        size_t e = find_nocase(s, len, i + 4, "-->");
        return e < len ? e + 3 : len;
    }
    if (len - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
        size_t e = find_nocase(s, len, i + 9, "]]>");
        return e < len ? e + 3 : len;
    }
    int tag = i + 1 < len && (is_letter(s[i + 1]) || (s[i + 1] == '/' && i + 2 < len && is_letter(s[i + 2])));
    if (!tag && !(i + 1 < len && (s[i + 1] == '!' || s[i + 1] == '?')))
        return 0;
    for (size_t j = i + 1; j < len; j++) {
        if (tag && (s[j] == '"' || s[j] == '\'')) { /* an attribute value may hold '>' */
            const char *q = memchr(s + j + 1, s[j], len - j - 1);
            if (!q)
                return len;
            j = (size_t)(q - s);
        } else if (s[j] == '>') {
            return j + 1;
        }
    }
    return len;
}

/* Whether the tag at s[i..end) opens script or style (raw text follows). */
static const char *raw_text_tag(const char *s, size_t i, size_t end)
{
    static const char *const tags[] = {"script", "style"};
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(tags[k]);
        if (end - i > n + 1 && strncasecmp(s + i + 1, tags[k], n) == 0 && !is_alnum(s[i + 1 + n]) &&
            s[i + 1 + n] != '-')
            return tags[k];
    }
    return NULL;
}

static int only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f')
            return 0;
    return 1;
}

int nmt_html_cut(const char *html, size_t len, nmt_html_piece **pieces, int *n)
{
    cutter c = {0};
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        if (html[i] == '<') {
            size_t end = markup_end(html, len, i);
            if (end) {
                rc = add(&c, i, end - i, 0);
                const char *raw = raw_text_tag(html, i, end);
                if (raw) { /* its contents, up to the closing tag, are markup too */
                    char close[16] = "</";
                    strcat(close, raw);
                    size_t stop = find_nocase(html, len, end, close);
                    rc = rc ? rc : add(&c, end, stop - end, 0);
                    end = stop;
                }
                i = end;
                continue;
            }
        } else if (html[i] == '&') {
            size_t r = named_ref_len(html + i, len - i);
            if (r && !known_ref(html + i, r)) { /* a reference we do not decode stays in place */
                rc = add(&c, i, r, 0);
                i += r;
                continue;
            }
        }
        rc = add(&c, i, 1, 1);
        i++;
    }
    /* whitespace between tags is layout, not text */
    for (int k = 0; rc == 0 && k < c.n; k++)
        if (c.p[k].is_text && only_space(html + c.p[k].off, c.p[k].len))
            c.p[k].is_text = 0;
    int w = 0;
    for (int k = 0; rc == 0 && k < c.n; k++) {
        if (w && !c.p[k].is_text && !c.p[w - 1].is_text)
            c.p[w - 1].len += c.p[k].len;
        else
            c.p[w++] = c.p[k];
    }
    if (rc) {
        free(c.p);
        return -1;
    }
    *pieces = c.p;
    *n = w;
    return 0;
}
