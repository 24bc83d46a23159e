/* html_text.h: the text nodes of an HTML fragment, for translating HTML
 * without touching its markup (LibreTranslate's format "html", as Mastodon
 * sends posts).  The fragment is cut into pieces that tile it: markup (tags
 * with their attributes, comments, doctypes, CDATA, the contents of script
 * and style, whitespace-only text) is kept byte for byte; text between them
 * is to be translated.  A text piece's character references are decoded for
 * the translator (&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric ones;
 * another named reference stays in place as markup, cutting the text there),
 * and its translation is escaped back (& < >).  Malformed HTML still cuts:
 * a '<' that starts no tag is text, an unterminated tag or comment is
 * markup to the end; nothing is ever dropped.  Pure functions; outside
 * input (fuzz target tests/fuzz/fuzz_html_text.c). */
#ifndef NMT_HTML_TEXT_H
#define NMT_HTML_TEXT_H

#include <stddef.h>

typedef struct nmt_html_piece {
    size_t off, len; /* bytes of the fragment */
    int is_text;     /* 1: translate (decoded); 0: keep as it is */
} nmt_html_piece;

/* Cuts html[0..len) into pieces (malloc'd array in *pieces, count in *n).
 * Returns 0, or -1 when memory runs out. */
int nmt_html_cut(const char *html, size_t len, nmt_html_piece **pieces, int *n);

/* The text of a text piece with its character references decoded
 * (malloc'd, NUL-terminated, length in *out_len); NULL if out of memory. */
char *nmt_html_decode(const char *text, size_t len, size_t *out_len);

/* Appends text with & < > escaped to *buf (malloc'd, grown; *len and *cap
 * its length and capacity).  Returns 0, or -1 when memory runs out. */
int nmt_html_append_escaped(char **buf, size_t *len, size_t *cap, const char *text, size_t text_len);

/* Appends bytes unchanged (same contract). */
int nmt_html_append(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n);

#endif
