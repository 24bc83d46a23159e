/* segmenter.h: a text as people write it -> segments (sentences) and the
 * gaps between them.
 *
 * A line break always ends a segment; with newline_join, a single line break
 * inside a paragraph is read as a space (hard-wrapped text) and only a blank
 * line ends one.  Inside that, ICU's sentence BreakIterator for the source
 * language with CLDR's abbreviation suppressions ("<lang>@ss=standard"),
 * corrected by our own lists where ICU still breaks wrongly (English "Dr.",
 * German "usw.", "z. B.", ordinals as in "am 28. September"; languages
 * without a list get ICU alone, an unknown one ICU's root rules).  A segment
 * is a span of the text with no whitespace at either end; everything between
 * segments, before the first and after the last is a gap, kept by the
 * caller byte for byte.
 *
 * Immutable after creation; thread-safe (each call works on its own clone of
 * the break iterator). */
#ifndef NMT_SEGMENTER_H
#define NMT_SEGMENTER_H

#include <stddef.h>

#include "err.h"

typedef struct nmt_segmenter nmt_segmenter;

/* A segment: text[begin, end), never empty, no whitespace at either end. */
typedef struct nmt_span {
    size_t begin, end;
} nmt_span;

/* lang: an ISO 639 code ("en", "de", "eng", "deu", "en_US"), or NULL / ""
 * for ICU's root rules. */
nmt_code nmt_segmenter_new(nmt_segmenter **out, const char *lang, nmt_err *err);
void nmt_segmenter_free(nmt_segmenter *s);
/* The language the rules are for ("" = root). */
const char *nmt_segmenter_language(const nmt_segmenter *s);

/* Cuts text[0..len) (valid UTF-8) into segments: *spans (malloc'd, caller
 * frees; NULL when *n == 0) in text order.  A text that is empty or only
 * whitespace has none.  At most max_spans are produced: past that,
 * NMT_ERR_TOO_LONG with *n = max_spans + 1 and nothing to free. */
nmt_code nmt_segmenter_split(const nmt_segmenter *s, const char *text, size_t len, int newline_join, int max_spans,
                             nmt_span **spans, int *n, nmt_err *err);

#endif
