/* fuzz_html_text.c: fuzz target for cutting HTML into markup and text
 * (nmt_html_cut) and decoding a text piece (nmt_html_decode).  The input is
 * the fragment.  The pieces must tile it in order, neighbours of different
 * kinds, no text piece only whitespace; joining the pieces with each text
 * piece replaced by its decoded-then-escaped form must keep every markup
 * byte; decoding never grows a piece. */
#include <string.h>

#include "fuzz.h"
#include "html_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *html = (const char *)data;
    nmt_html_piece *p = NULL;
    int n = 0;
    FUZZ_CHECK(nmt_html_cut(html, size, &p, &n) == 0, "out of memory");
    size_t at = 0, markup = 0;
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(p[i].off == at && p[i].len > 0, "piece %d at %zu+%zu, expected at %zu", i, p[i].off, p[i].len, at);
        FUZZ_CHECK(i == 0 || p[i].is_text != p[i - 1].is_text, "pieces %d and %d of one kind", i - 1, i);
        at += p[i].len;
        if (p[i].is_text) {
            size_t dl;
            char *d = nmt_html_decode(html + p[i].off, p[i].len, &dl);
            FUZZ_CHECK(d != NULL && dl <= p[i].len, "decode grew %zu -> %zu", p[i].len, dl);
            int space = 1;
            for (size_t k = 0; k < p[i].len && space; k++)
                space = html[p[i].off + k] != '\0' && strchr(" \t\n\r\f", html[p[i].off + k]) != NULL;
            FUZZ_CHECK(!space, "a whitespace-only text piece");
            FUZZ_CHECK(nmt_html_append_escaped(&out, &len, &cap, d, dl) == 0, "append");
            free(d);
        } else {
            markup += p[i].len;
            FUZZ_CHECK(nmt_html_append(&out, &len, &cap, html + p[i].off, p[i].len) == 0, "append");
        }
    }
    FUZZ_CHECK(at == size, "pieces cover %zu of %zu bytes", at, size);
    FUZZ_CHECK(len >= markup, "markup lost");
    free(out);
    free(p);
    return 0;
}
