/* segmenter.c: line breaks first (ours), then ICU's sentence rules inside
 * each line or paragraph (on the UTF-8 bytes directly, through UText, so
 * ICU's boundaries are our byte offsets), then our corrections: a boundary
 * right after a word of the language's non-breaking list is undone (after
 * Moses' nonbreaking_prefix files: titles, abbreviations, initials,
 * dotted acronyms, German ordinals). */
#include "segmenter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include "utf8.h"

/* Words that a full stop after them does not end a sentence ("Dr." +
 * "Smith").  Matched exactly, case included, without the final '.'. */
static const char *const english_prefixes[] = {
    "Mr",   "Mrs",  "Ms",   "Dr",   "Prof", "Sr",   "Jr",   "St",   "Mt",    "Gen",  "Gov",  "Sen",
    "Rep",  "Capt", "Col",  "Lt",   "Sgt",  "Rev",  "Hon",  "Messrs", "Mme", "Mlle", "Inc",  "Ltd",
    "Corp", "Bros", "vs",   "approx", "dept", "est", "Fig",  "fig",  "Vol",  "vol",  "Jan",  "Feb",
    "Apr",  "Jun",  "Jul",  "Aug",  "Sep",  "Sept", "Oct",  "Nov",  "Dec",   "Ave",  "Blvd", "cf",
    "al",   "Ph",   "Esq",  "Adm",  "Maj",  "Supt", "Det",  NULL,
};
static const char *const german_prefixes[] = {
    "usw",  "bzw",  "ca",   "evtl", "ggf",  "inkl", "Nr",   "Str",  "Dr",   "Prof", "Hr",   "Hrn",
    "Fr",   "Frl",  "vgl",  "Vgl",  "bspw", "Bsp",  "etc",  "Jh",   "Jhd",  "Mio",  "Mrd",  "Abs",
    "Art",  "Bd",   "geb",  "gest", "sog",  "zzgl", "Tel",  "ehem", "allg", "Abb",  "Kap",  "Std",
    "Min",  "Sek",  "usf",  "ff",   "Ziff", "lt",   "gem",  "lfd",  "Hrsg", "Aufl", "Bzw",  "Ca",
    "Jan",  "Feb",  "Apr",  "Jun",  "Jul",  "Aug",  "Sep",  "Sept", "Okt",  "Nov",  "Dez",  "St",
    "Dipl", "Ing",  "Mag",  "Verf", "Anm",  "Ggf",  "Evtl", "Inkl", "zB",   "dh",   "ua",   "Nrn",
    NULL,
};

typedef struct language_rules {
    const char *code;                 /* ISO 639-1 */
    const char *iso3;                 /* ISO 639-2/3 */
    const char *const *prefixes;
    int ordinals;                     /* "28." before a word is an ordinal (German) */
} language_rules;

static const language_rules languages[] = {
    {"en", "eng", english_prefixes, 0},
    {"de", "deu", german_prefixes, 1},
    {"de", "ger", german_prefixes, 1},
};

struct nmt_segmenter {
    char lang[16];                    /* ICU's language code, "" = root */
    const language_rules *rules;      /* NULL: ICU alone */
    UBreakIterator *proto;            /* cloned for each call */
};

/* ---- language ------------------------------------------------------------ */

nmt_code nmt_segmenter_new(nmt_segmenter **out, const char *lang, nmt_err *err)
{
    *out = NULL;
    nmt_segmenter *s = calloc(1, sizeof *s);
    if (!s)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    /* "en_US" / "en-US" -> "en"; three letters are mapped when we know them */
    size_t n = 0;
    if (lang)
        while (lang[n] && lang[n] != '_' && lang[n] != '-' && lang[n] != '@' && n < sizeof s->lang - 1) {
            char c = lang[n];
            s->lang[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
    s->lang[n] = '\0';
    for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++) {
        if (strcmp(s->lang, languages[i].code) == 0 || strcmp(s->lang, languages[i].iso3) == 0) {
            s->rules = &languages[i];
            snprintf(s->lang, sizeof s->lang, "%s", languages[i].code);
        }
    }
    char locale[48];
    snprintf(locale, sizeof locale, "%s@ss=standard", s->lang);
    UErrorCode st = U_ZERO_ERROR;
    s->proto = ubrk_open(UBRK_SENTENCE, s->lang[0] ? locale : "@ss=standard", NULL, 0, &st);
    if (U_FAILURE(st) || !s->proto) {
        nmt_segmenter_free(s);
        return nmt_err_set(err, NMT_ERR_INVALID, "ICU cannot make a sentence break iterator for '%s': %s",
                           lang ? lang : "", u_errorName(st));
    }
    *out = s;
    return NMT_OK;
}

void nmt_segmenter_free(nmt_segmenter *s)
{
    if (!s)
        return;
    if (s->proto)
        ubrk_close(s->proto);
    free(s);
}

const char *nmt_segmenter_language(const nmt_segmenter *s) { return s->lang; }

/* ---- spans --------------------------------------------------------------- */

typedef struct span_list {
    nmt_span *v;
    int n, cap, max;
    int overflow;
} span_list;

/* Adds text[b, e) trimmed of whitespace, if anything is left. */
static int push(span_list *l, const char *text, size_t b, size_t e)
{
    b = nmt_skip_space(text, b, e);
    e = nmt_trim_space_end(text, b, e);
    if (b >= e)
        return 0;
    if (l->n >= l->max) {
        l->overflow = 1;
        return -1;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        nmt_span *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -2;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (nmt_span){b, e};
    return 0;
}

/* ---- our corrections ------------------------------------------------------ */

static int is_ascii_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* 1 if a boundary after text[b, e) (a segment) should not be there: the
 * segment ends with "<word>." and the word is one after which a full stop
 * does not end a sentence. */
static int nonbreaking_end(const language_rules *r, const char *text, size_t b, size_t e)
{
    if (!r || e - b < 2 || text[e - 1] != '.')
        return 0;
    size_t w = e - 1; /* the word: back to whitespace */
    while (w > b && !nmt_space_before(text + b, w - b))
        w--;
    /* opening punctuation does not belong to the word */
    while (w < e - 1 && strchr("([{\"'", text[w]))
        w++;
    size_t n = e - 1 - w;
    if (n == 0 || n > 15)
        return 0;
    char word[16];
    memcpy(word, text + w, n);
    word[n] = '\0';
    if (n == 1 && is_ascii_letter((unsigned char)word[0]))
        return 1; /* an initial: "J. Smith", "z. B." */
    if (strchr(word, '.')) { /* a dotted abbreviation or acronym: "e.g.", "z.B.", "U.S." */
        for (const char *p = word; *p; p++)
            if (*p != '.' && !is_ascii_letter((unsigned char)*p))
                return 0;
        return 1;
    }
    for (const char *const *p = r->prefixes; *p; p++)
        if (strcmp(word, *p) == 0)
            return 1;
    if (r->ordinals && n <= 3) { /* "am 28. September", "der 3. Platz"; a year ("1990.") is not */
        for (size_t i = 0; i < n; i++)
            if (!is_digit((unsigned char)word[i]))
                return 0;
        return 1;
    }
    return 0;
}

/* ---- splitting ------------------------------------------------------------ */

/* Runs ICU over text[b, e) (one line, or one paragraph whose single line
 * breaks become spaces in work[]) and adds its sentences. */
static nmt_code split_block(const nmt_segmenter *s, const char *text, const char *icu_text, size_t b, size_t e,
                            span_list *l, nmt_err *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UBreakIterator *bi = ubrk_clone(s->proto, &st);
    UText *ut = utext_openUTF8(NULL, icu_text + b, (int64_t)(e - b), &st);
    if (U_SUCCESS(st))
        ubrk_setUText(bi, ut, &st);
    if (U_FAILURE(st)) {
        utext_close(ut);
        ubrk_close(bi);
        return nmt_err_set(err, NMT_ERR_NOMEM, "ICU sentence break failed: %s", u_errorName(st));
    }
    int first = l->n, rc = 0;
    for (int32_t from = ubrk_first(bi), to; rc == 0 && (to = ubrk_next(bi)) != UBRK_DONE; from = to)
        rc = push(l, text, b + (size_t)from, b + (size_t)to);
    utext_close(ut);
    ubrk_close(bi);
    if (rc == -2)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    if (rc == -1)
        return NMT_ERR_TOO_LONG;
    /* undo boundaries after non-breaking words (inside this block only) */
    int kept = first;
    for (int i = first; i < l->n; i++) {
        if (kept > first && nonbreaking_end(s->rules, text, l->v[kept - 1].begin, l->v[kept - 1].end))
            l->v[kept - 1].end = l->v[i].end;
        else
            l->v[kept++] = l->v[i];
    }
    l->n = kept;
    return NMT_OK;
}

nmt_code nmt_segmenter_split(const nmt_segmenter *s, const char *text, size_t len, int newline_join, int max_spans,
                             nmt_span **spans, int *n, nmt_err *err)
{
    *spans = NULL;
    *n = 0;
    if (len > (size_t)INT32_MAX)
        return nmt_err_set(err, NMT_ERR_TOO_LONG, "a text of %zu bytes is too long to segment", len);
    span_list l = {.max = max_spans};
    char *work = NULL; /* newline_join: the text with single line breaks as spaces */
    if (newline_join) {
        if (!(work = malloc(len + 1)))
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        memcpy(work, text, len);
        work[len] = '\0';
    }
    nmt_code rc = NMT_OK;
    size_t block = 0, i = 0;
    while (rc == NMT_OK && i <= len) {
        size_t nl = i < len ? nmt_newline_at(text + i, len - i) : 0;
        if (i < len && !nl) {
            i += nmt_char_len(text + i, len - i);
            continue;
        }
        if (newline_join && nl) {
            /* a single break inside a paragraph is a space; a blank line (two
             * breaks with only whitespace between) ends the paragraph */
            size_t j = i + nl, k;
            int blank = 0;
            while (j < len && (k = nmt_space_at(text + j, len - j)) > 0) {
                if (nmt_newline_at(text + j, len - j)) {
                    blank = 1;
                    break;
                }
                j += k;
            }
            if (!blank) {
                memset(work + i, ' ', nl);
                i += nl;
                continue;
            }
        }
        if (i > block)
            rc = split_block(s, text, newline_join ? work : text, block, i, &l, err);
        i += nl ? nl : 1;
        block = i;
    }
    free(work);
    if (rc == NMT_ERR_TOO_LONG || l.overflow) {
        free(l.v);
        *n = max_spans + 1;
        return nmt_err_set(err, NMT_ERR_TOO_LONG, "the text has more than %d segments", max_spans);
    }
    if (rc) {
        free(l.v);
        return rc;
    }
    *spans = l.n ? l.v : NULL;
    if (!l.n)
        free(l.v);
    *n = l.n;
    return NMT_OK;
}
