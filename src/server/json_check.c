/* json_check.c: the strict RFC 8259 grammar as a recursive-descent walk
 * that builds nothing (see json_check.h).  Depth is bounded by the caller,
 * so the recursion is too. */
#include "json_check.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct walker {
    const char *s;
    size_t len, pos;
    int max_depth;
    nmt_json_problem *p;
} walker;

static nmt_json_verdict stop(walker *w, nmt_json_verdict v, const char *what)
{
    if (w->p->verdict == NMT_JSON_OK) {
        w->p->verdict = v;
        w->p->offset = w->pos;
        w->p->what = what;
    }
    return v;
}

static void skip_ws(walker *w)
{
    while (w->pos < w->len) {
        char c = w->s[w->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        w->pos++;
    }
}

/* Four hex digits at w->pos (after "\u"); -1 if not. */
static long hex4(walker *w)
{
    if (w->len - w->pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = nmt_hex_digit(w->s[w->pos + (size_t)i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    w->pos += 4;
    return v;
}

/* A string starting at the opening quote.  is_key chooses the NUL verdict. */
static nmt_json_verdict string(walker *w, int is_key)
{
    size_t start = w->pos++;
    for (;;) {
        if (w->pos >= w->len) {
            w->pos = start;
            return stop(w, NMT_JSON_MALFORMED, "unterminated string");
        }
        unsigned char c = (unsigned char)w->s[w->pos];
        if (c == '"') {
            w->pos++;
            return NMT_JSON_OK;
        }
        if (c < 0x20)
            return stop(w, NMT_JSON_MALFORMED, "raw control character in a string (escape it)");
        if (c != '\\') {
            w->pos++;
            continue;
        }
        size_t escape_at = w->pos;
        if (++w->pos >= w->len)
            return stop(w, NMT_JSON_MALFORMED, "unterminated escape");
        c = (unsigned char)w->s[w->pos++];
        if (strchr("\"\\/bfnrt", c) && c != '\0')
            continue;
        if (c != 'u') {
            w->pos = escape_at;
            return stop(w, NMT_JSON_MALFORMED, "invalid escape in a string");
        }
        long cp = hex4(w);
        if (cp < 0) {
            w->pos = escape_at;
            return stop(w, NMT_JSON_MALFORMED, "\\u needs four hex digits");
        }
        if (cp == 0) {
            w->pos = escape_at;
            return is_key ? stop(w, NMT_JSON_NUL_IN_KEY, "U+0000 in an object key")
                          : stop(w, NMT_JSON_NUL_IN_VALUE, "U+0000 (NUL) in a string");
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            w->pos = escape_at;
            return stop(w, NMT_JSON_MALFORMED, "lone low surrogate in a \\u escape");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            long low = -1;
            if (w->len - w->pos >= 2 && w->s[w->pos] == '\\' && w->s[w->pos + 1] == 'u') {
                w->pos += 2;
                low = hex4(w);
            }
            if (low < 0xdc00 || low > 0xdfff) {
                w->pos = escape_at;
                return stop(w, NMT_JSON_MALFORMED, "high surrogate not followed by a low one");
            }
        }
    }
}

static int is_digit(walker *w)
{
    return w->pos < w->len && w->s[w->pos] >= '0' && w->s[w->pos] <= '9';
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ("e"/"E") [ "+"/"-" ] 1*DIGIT ] */
static nmt_json_verdict number(walker *w)
{
    if (w->s[w->pos] == '-')
        w->pos++;
    if (!is_digit(w))
        return stop(w, NMT_JSON_MALFORMED, "a number needs a digit here");
    if (w->s[w->pos] == '0') {
        w->pos++;
        if (is_digit(w))
            return stop(w, NMT_JSON_MALFORMED, "leading zero in a number");
    } else {
        while (is_digit(w))
            w->pos++;
    }
    if (w->pos < w->len && w->s[w->pos] == '.') {
        w->pos++;
        if (!is_digit(w))
            return stop(w, NMT_JSON_MALFORMED, "a fraction needs a digit after '.'");
        while (is_digit(w))
            w->pos++;
    }
    if (w->pos < w->len && (w->s[w->pos] == 'e' || w->s[w->pos] == 'E')) {
        w->pos++;
        if (w->pos < w->len && (w->s[w->pos] == '+' || w->s[w->pos] == '-'))
            w->pos++;
        if (!is_digit(w))
            return stop(w, NMT_JSON_MALFORMED, "an exponent needs a digit");
        while (is_digit(w))
            w->pos++;
    }
    return NMT_JSON_OK;
}

static nmt_json_verdict literal(walker *w, const char *word)
{
    size_t n = strlen(word);
    if (w->len - w->pos < n || memcmp(w->s + w->pos, word, n) != 0)
        return stop(w, NMT_JSON_MALFORMED, "unexpected character (not a JSON value)");
    w->pos += n;
    return NMT_JSON_OK;
}

static nmt_json_verdict value(walker *w, int depth);

static nmt_json_verdict container(walker *w, int depth, char close)
{
    if (depth >= w->max_depth)
        return stop(w, NMT_JSON_TOO_DEEP, "nested too deeply");
    w->pos++; /* '[' or '{' */
    skip_ws(w);
    if (w->pos < w->len && w->s[w->pos] == close) {
        w->pos++;
        return NMT_JSON_OK;
    }
    for (;;) {
        nmt_json_verdict v;
        if (close == '}') {
            if (w->pos >= w->len || w->s[w->pos] != '"')
                return stop(w, NMT_JSON_MALFORMED, "an object key must be a string");
            if ((v = string(w, 1)))
                return v;
            skip_ws(w);
            if (w->pos >= w->len || w->s[w->pos] != ':')
                return stop(w, NMT_JSON_MALFORMED, "':' expected after an object key");
            w->pos++;
            skip_ws(w);
        }
        if ((v = value(w, depth + 1)))
            return v;
        skip_ws(w);
        if (w->pos >= w->len)
            return stop(w, NMT_JSON_MALFORMED, close == '}' ? "unterminated object" : "unterminated array");
        char c = w->s[w->pos];
        if (c == close) {
            w->pos++;
            return NMT_JSON_OK;
        }
        if (c != ',')
            return stop(w, NMT_JSON_MALFORMED, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
        w->pos++;
        skip_ws(w);
    }
}

static nmt_json_verdict value(walker *w, int depth)
{
    if (w->pos >= w->len)
        return stop(w, NMT_JSON_MALFORMED, "a value is missing");
    switch (w->s[w->pos]) {
    case '{':
        return container(w, depth, '}');
    case '[':
        return container(w, depth, ']');
    case '"':
        return string(w, 0);
    case 't':
        return literal(w, "true");
    case 'f':
        return literal(w, "false");
    case 'n':
        return literal(w, "null");
    default:
        if (w->s[w->pos] == '-' || (w->s[w->pos] >= '0' && w->s[w->pos] <= '9'))
            return number(w);
        return stop(w, NMT_JSON_MALFORMED, "unexpected character (not a JSON value)");
    }
}

nmt_json_verdict nmt_json_check(const char *s, size_t len, int max_depth, nmt_json_problem *p)
{
    walker w = {.s = s, .len = len, .pos = 0, .max_depth = max_depth, .p = p};
    p->verdict = NMT_JSON_OK;
    p->offset = 0;
    p->what = NULL;
    skip_ws(&w);
    nmt_json_verdict v = value(&w, 0);
    if (v)
        return v;
    skip_ws(&w);
    if (w.pos != w.len)
        return stop(&w, NMT_JSON_MALFORMED, "text after the JSON value");
    return NMT_JSON_OK;
}

/* ---- duplicate keys ----------------------------------------------------- */

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int nmt_json_duplicate_key(const cJSON *root, const char **key)
{
    if (!root)
        return 0;
    if (cJSON_IsObject(root)) {
        size_t n = 0;
        for (const cJSON *it = root->child; it; it = it->next)
            n++;
        if (n > 1) {
            const char **keys = malloc(n * sizeof *keys);
            if (!keys)
                return -1;
            size_t k = 0;
            for (const cJSON *it = root->child; it; it = it->next)
                keys[k++] = it->string ? it->string : "";
            qsort(keys, n, sizeof *keys, by_key);
            for (size_t i = 1; i < n; i++) {
                if (strcmp(keys[i - 1], keys[i]) == 0) {
                    *key = keys[i];
                    free(keys);
                    return 1;
                }
            }
            free(keys);
        }
    }
    if (cJSON_IsObject(root) || cJSON_IsArray(root)) {
        for (const cJSON *it = root->child; it; it = it->next) {
            int rc = nmt_json_duplicate_key(it, key);
            if (rc)
                return rc;
        }
    }
    return 0;
}
