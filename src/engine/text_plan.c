/* text_plan.c: see text_plan.h.  The plan keeps a copy of the text (gaps
 * are read from it at join time), the units as spans of that copy, and all
 * units' ids in one array.  Wrapping: the longest prefix of the rest of the
 * segment that ends after whitespace or punctuation and encodes within the
 * position limit is found by binary search over those cut points (token
 * counts grow with the prefix); a segment with no such point (one enormous
 * word) is cut between characters the same way. */
#include "text_plan.h"

#include <stdlib.h>
#include <string.h>

#include "segmenter.h"
#include "utf8.h"

typedef struct unit {
    size_t begin, end;    /* in p->text */
    size_t ids_at;
    int n_ids;
    int segment;          /* which segment it belongs to */
} unit;

struct nmt_text_plan {
    char *text;           /* the text as given (gaps come from here) */
    char *work;           /* the text as translated: line breaks inside a joined paragraph are spaces */
    size_t len;
    nmt_span *segments;
    int n_segments;
    unit *units;
    int n_units, cap_units;
    int *ids;
    size_t n_ids, cap_ids;
    int eos_id;
    int n_prefix;          /* 1 when every unit starts with a language token */
};

void nmt_text_plan_free(nmt_text_plan *p)
{
    if (!p)
        return;
    free(p->text);
    free(p->work);
    free(p->segments);
    free(p->units);
    free(p->ids);
    free(p);
}

int nmt_text_plan_units(const nmt_text_plan *p) { return p->n_units; }

const int *nmt_text_plan_ids(const nmt_text_plan *p, int u, int *n_ids)
{
    *n_ids = p->units[u].n_ids;
    return p->ids + p->units[u].ids_at;
}

int nmt_text_plan_unit_empty(const nmt_text_plan *p, int u)
{
    return p->units[u].n_ids == 1 + p->n_prefix && p->ids[p->units[u].ids_at + p->n_prefix] == p->eos_id;
}

const char *nmt_text_plan_text(const nmt_text_plan *p, int u, size_t *len)
{
    *len = p->units[u].end - p->units[u].begin;
    return p->work + p->units[u].begin;
}

/* ---- building ------------------------------------------------------------- */

typedef struct planner {
    nmt_text_plan *p;
    const nmt_translator *tr;
    int max_pos, max_units;
    int lang_token;        /* > 0: put before every unit's ids */
    int *scratch;          /* [max_pos + 1] ids of a trial encoding */
    nmt_err *err;
} planner;

/* Token count of work[b, e) (</s> included); writes the ids to scratch when
 * they fit.  -1 on error (err set). */
static int count_tokens(planner *pl, size_t b, size_t e)
{
    int n = 0, prefix = pl->lang_token > 0;
    nmt_err e2;
    nmt_code rc = nmt_translator_encode(pl->tr, pl->p->work + b, e - b, pl->scratch + prefix, pl->max_pos + 1 - prefix,
                                        &n, &e2);
    if (rc && rc != NMT_ERR_TOO_LONG) {
        *pl->err = e2;
        return -1;
    }
    if (prefix)
        pl->scratch[0] = pl->lang_token;
    return n + prefix;
}

/* Appends unit work[b, e) whose ids are in scratch (n of them). */
static nmt_code add_unit(planner *pl, size_t b, size_t e, int n, int segment)
{
    nmt_text_plan *p = pl->p;
    if (p->n_units >= pl->max_units)
        return nmt_err_set(pl->err, NMT_ERR_TOO_LONG, "the text needs more than %d segments", pl->max_units);
    if (p->n_units == p->cap_units) {
        int cap = p->cap_units ? 2 * p->cap_units : 8;
        unit *u = realloc(p->units, (size_t)cap * sizeof *u);
        if (!u)
            return nmt_err_set(pl->err, NMT_ERR_NOMEM, "out of memory");
        p->units = u;
        p->cap_units = cap;
    }
    if (p->n_ids + (size_t)n > p->cap_ids) {
        size_t cap = p->cap_ids ? 2 * p->cap_ids : 256;
        while (cap < p->n_ids + (size_t)n)
            cap *= 2;
        int *ids = realloc(p->ids, cap * sizeof *ids);
        if (!ids)
            return nmt_err_set(pl->err, NMT_ERR_NOMEM, "out of memory");
        p->ids = ids;
        p->cap_ids = cap;
    }
    memcpy(p->ids + p->n_ids, pl->scratch, (size_t)n * sizeof(int));
    p->units[p->n_units++] = (unit){.begin = b, .end = e, .ids_at = p->n_ids, .n_ids = n, .segment = segment};
    p->n_ids += (size_t)n;
    return NMT_OK;
}

static int is_cut_punct(char c) { return c && strchr(".,;:!?)]}\"'-/", c) != NULL; }

/* Candidate cut points in work(b, e): after a whitespace run, or after
 * punctuation (chars_only: after any character). */
static size_t collect_cuts(const char *s, size_t b, size_t e, int chars_only, size_t *cuts)
{
    size_t n = 0;
    for (size_t i = b; i < e;) {
        size_t k = nmt_space_at(s + i, e - i);
        size_t step = k ? k : nmt_char_len(s + i, e - i);
        size_t next = i + step;
        int cut = chars_only || (k && !(next < e && nmt_space_at(s + next, e - next))) ||
                  (!k && is_cut_punct(s[i]));
        if (cut && next < e)
            cuts[n++] = next;
        i = next;
    }
    return n;
}

/* Wraps work[b, e) (a segment too long for the model) into units. */
static nmt_code wrap(planner *pl, size_t b, size_t e, int segment)
{
    const char *s = pl->p->work;
    size_t *cuts = malloc((e - b + 1) * sizeof *cuts);
    if (!cuts)
        return nmt_err_set(pl->err, NMT_ERR_NOMEM, "out of memory");
    nmt_code rc = NMT_OK;
    while (rc == NMT_OK && b < e) {
        int n = count_tokens(pl, b, e);
        if (n < 0) {
            rc = pl->err->code;
            break;
        }
        if (n <= pl->max_pos) {
            rc = add_unit(pl, b, e, n, segment);
            break;
        }
        size_t best = 0;
        for (int chars_only = 0; chars_only < 2 && !best; chars_only++) {
            size_t n_cuts = collect_cuts(s, b, e, chars_only, cuts);
            size_t lo = 0, hi = n_cuts; /* the answer is in cuts[0, lo) after the search */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int m = count_tokens(pl, b, nmt_trim_space_end(s, b, cuts[mid]));
                if (m < 0) {
                    free(cuts);
                    return pl->err->code;
                }
                if (m <= pl->max_pos)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo > 0)
                best = cuts[lo - 1];
        }
        if (!best) { /* not even one character fits: cannot happen with a sane vocabulary */
            rc = nmt_err_set(pl->err, NMT_ERR_TOO_LONG, "a single character needs more than %d tokens", pl->max_pos);
            break;
        }
        size_t end = nmt_trim_space_end(s, b, best);
        n = count_tokens(pl, b, end); /* refills scratch with this unit's ids */
        if (n < 0) {
            rc = pl->err->code;
            break;
        }
        rc = add_unit(pl, b, end, n, segment);
        b = nmt_skip_space(s, best, e);
    }
    free(cuts);
    return rc;
}

nmt_code nmt_text_plan_new(nmt_text_plan **out, const nmt_translator *tr, const char *text, size_t len,
                           const nmt_text_opts *opts, nmt_err *err)
{
    *out = NULL;
    nmt_text_plan *p = calloc(1, sizeof *p);
    if (!p)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    p->len = len;
    p->eos_id = nmt_translator_eos_id(tr);
    p->n_prefix = opts->lang_token > 0;
    p->text = malloc(len + 1);
    p->work = malloc(len + 1);
    planner pl = {.p = p, .tr = tr, .max_pos = nmt_translator_max_positions(tr), .max_units = opts->max_units,
                  .lang_token = opts->lang_token, .err = err};
    pl.scratch = malloc(((size_t)pl.max_pos + 1) * sizeof(int));
    nmt_code rc = NMT_OK;
    if (!p->text || !p->work || !pl.scratch) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(p->text, text, len);
    memcpy(p->work, text, len);
    p->text[len] = p->work[len] = '\0';
    if (opts->split) {
        rc = nmt_segmenter_split(nmt_translator_segmenter(tr), text, len, opts->newline_join, opts->max_units, &p->segments,
                                 &p->n_segments, err);
        if (rc == NMT_ERR_TOO_LONG)
            nmt_err_set(err, rc, "the text has more than %d segments", opts->max_units);
    } else {
        size_t b = nmt_skip_space(text, 0, len), e = nmt_trim_space_end(text, b, len);
        if (b < e) {
            if (!(p->segments = malloc(sizeof *p->segments))) {
                rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                goto out;
            }
            p->segments[0] = (nmt_span){b, e};
            p->n_segments = 1;
        }
    }
    for (int s = 0; rc == NMT_OK && s < p->n_segments; s++) {
        size_t b = p->segments[s].begin, e = p->segments[s].end;
        for (size_t i = b; i < e;) { /* what the model reads: a line break inside a segment is a space */
            size_t nl = nmt_newline_at(p->work + i, e - i);
            if (nl) {
                memset(p->work + i, ' ', nl);
                i += nl;
            } else {
                i += nmt_char_len(p->work + i, e - i);
            }
        }
        int n = count_tokens(&pl, b, e);
        if (n < 0)
            rc = err->code;
        else if (n <= pl.max_pos)
            rc = add_unit(&pl, b, e, n, s);
        else
            rc = wrap(&pl, b, e, s);
    }
out:
    free(pl.scratch);
    if (rc) {
        nmt_text_plan_free(p);
        return rc;
    }
    *out = p;
    return NMT_OK;
}

/* ---- joining --------------------------------------------------------------- */

nmt_code nmt_text_plan_join(const nmt_text_plan *p, const char *const *translations, char **out, nmt_err *err)
{
    *out = NULL;
    size_t need = p->len + 1;
    for (int u = 0; u < p->n_units; u++)
        need += (translations[u] ? strlen(translations[u]) : 0) + 1;
    char *s = malloc(need);
    if (!s)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    size_t at = 0, from = 0; /* from: where the next gap starts in p->text */
    for (int u = 0; u < p->n_units; u++) {
        const unit *x = &p->units[u];
        const nmt_span *seg = &p->segments[x->segment];
        if (u == 0 || p->units[u - 1].segment != x->segment) { /* the gap before this segment */
            memcpy(s + at, p->text + from, seg->begin - from);
            at += seg->begin - from;
        } else {
            s[at++] = ' '; /* a wrapped segment's pieces */
        }
        size_t n = translations[u] ? strlen(translations[u]) : 0;
        memcpy(s + at, translations[u] ? translations[u] : "", n);
        at += n;
        from = seg->end;
    }
    memcpy(s + at, p->text + from, p->len - from); /* after the last segment (or the whole text) */
    at += p->len - from;
    s[at] = '\0';
    *out = s;
    return NMT_OK;
}
