/* text_plan.h: one text's way through translation.  The text is cut into
 * segments (segmenter.h; or one segment when splitting is off), each segment
 * into units short enough for the model (a segment over the position limit
 * is wrapped at the last whitespace or punctuation that fits, never
 * truncated), and each unit is encoded into source ids.  After the units
 * are translated, join() puts the text back together: the gaps between
 * segments (spaces, tabs, line breaks, blank lines), and the whitespace
 * before the first and after the last, exactly as they were; the pieces of
 * a wrapped segment with one space.
 *
 *   nmt_text_plan *p;  nmt_text_plan_new(&p, tr, text, len, &opts, &err);
 *   for (u = 0; u < nmt_text_plan_units(p); u++) ... translate nmt_text_plan_ids(p, u, &n) ...
 *   nmt_text_plan_join(p, translations, &out, &err);  nmt_text_plan_free(p);
 *
 * A plan is built on one thread and read by any; it owns a copy of what it
 * needs of the text. */
#ifndef NMT_TEXT_PLAN_H
#define NMT_TEXT_PLAN_H

#include <stddef.h>

#include "err.h"
#include "translator.h"

typedef struct nmt_text_opts {
    int split;        /* cut into sentences (else the whole text is one segment) */
    int newline_join; /* a single line break inside a paragraph is a space */
    int max_units;    /* at most this many units (segments and wrapped pieces) */
    int lang_token;   /* > 0: this id (a >>xxx<< token) starts every unit's ids, as Hugging Face's
                         tokenizer reads ">>fra<< text"; 0: none */
} nmt_text_opts;

typedef struct nmt_text_plan nmt_text_plan;

/* Plans text[0..len) (valid UTF-8).  NMT_ERR_TOO_LONG when it would take
 * more than opts->max_units units (nothing allocated then). */
nmt_code nmt_text_plan_new(nmt_text_plan **out, const nmt_translator *tr, const char *text, size_t len,
                           const nmt_text_opts *opts, nmt_err *err);
void nmt_text_plan_free(nmt_text_plan *p);

/* Units to translate (0 for an empty or all-whitespace text). */
int nmt_text_plan_units(const nmt_text_plan *p);
/* Unit u's source ids (</s> included; at most max_position_embeddings). */
const int *nmt_text_plan_ids(const nmt_text_plan *p, int u, int *n_ids);
/* 1 if unit u has no tokens but </s> (and the language token): only
 * characters the tokenizer drops; its translation is "" without decoding. */
int nmt_text_plan_unit_empty(const nmt_text_plan *p, int u);
/* Unit u's text (not NUL-terminated). */
const char *nmt_text_plan_text(const nmt_text_plan *p, int u, size_t *len);

/* The translated text (*out malloc'd): translations[u] for each unit, in
 * the original gaps. */
nmt_code nmt_text_plan_join(const nmt_text_plan *p, const char *const *translations, char **out, nmt_err *err);

#endif
