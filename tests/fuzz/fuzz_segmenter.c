/* fuzz_segmenter.c: fuzz target for the sentence segmenter
 * (nmt_segmenter_split), which cuts the text of every request.  The input's
 * first byte chooses the language rules (English, German or ICU's root) and
 * whether single line breaks join; the rest is the text (only valid UTF-8
 * reaches the segmenter, as in the daemon).  A success must keep the
 * header's promises: spans in order, inside the text, never empty, no
 * whitespace at either end, no line break inside (unless joining), at most
 * max_spans of them; an overflow says so. */
#include <string.h>

#include "fuzz.h"
#include "segmenter.h"
#include "utf8.h"

static nmt_segmenter *segmenters[3];

static nmt_segmenter *get(int which)
{
    static const char *const langs[3] = {"en", "de", ""};
    if (!segmenters[which]) {
        nmt_err err;
        FUZZ_CHECK(nmt_segmenter_new(&segmenters[which], langs[which], &err) == NMT_OK, "%s", err.msg);
    }
    return segmenters[which];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3, join = (data[0] >> 2) & 1, max_spans = 1 + (data[0] >> 3);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (!nmt_utf8_valid(text, len))
        return 0;
    nmt_span *spans = NULL;
    int n = 0;
    nmt_err err;
    nmt_code rc = nmt_segmenter_split(get(which), text, len, join, max_spans, &spans, &n, &err);
    if (rc == NMT_ERR_TOO_LONG) {
        FUZZ_CHECK(n == max_spans + 1 && spans == NULL, "overflow reported as n=%d", n);
        return 0;
    }
    FUZZ_CHECK(rc == NMT_OK, "%s", err.msg);
    FUZZ_CHECK(n <= max_spans, "%d spans, at most %d allowed", n, max_spans);
    size_t prev_end = 0;
    for (int i = 0; i < n; i++) {
        size_t b = spans[i].begin, e = spans[i].end;
        FUZZ_CHECK(prev_end <= b && b < e && e <= len, "span %d [%zu, %zu) after %zu in %zu", i, b, e, prev_end, len);
        FUZZ_CHECK(!nmt_space_at(text + b, e - b) && !nmt_space_before(text + b, e - b), "span %d not trimmed", i);
        if (!join)
            for (size_t k = b; k < e; k++)
                FUZZ_CHECK(!nmt_newline_at(text + k, e - k), "span %d holds a line break", i);
        prev_end = e;
    }
    /* nothing but whitespace outside the spans */
    size_t at = 0;
    for (int i = 0; i <= n; i++) {
        size_t end = i < n ? spans[i].begin : len;
        FUZZ_CHECK(nmt_skip_space(text, at, end) == end, "text outside the spans before span %d", i);
        at = i < n ? spans[i].end : len;
    }
    free(spans);
    return 0;
}
