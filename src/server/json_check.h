/* json_check.h: a strict RFC 8259 checker for request bodies, run before
 * cJSON sees them.  cJSON is lenient where JSON is not (raw control
 * characters inside strings, leading zeros) and decodes "\u0000" into a
 * NUL-terminated string that silently ends there; this checker refuses all
 * of that, so that every string cJSON hands back afterwards is complete.
 * Duplicate keys are found on the parsed tree (nmt_json_duplicate_key).
 *
 * Pure functions; thread-safe; only the duplicate search allocates. */
#ifndef NMT_JSON_CHECK_H
#define NMT_JSON_CHECK_H

#include <stddef.h>

typedef enum nmt_json_verdict {
    NMT_JSON_OK = 0,
    NMT_JSON_MALFORMED,    /* not JSON: see problem and offset */
    NMT_JSON_NUL_IN_VALUE, /* JSON, but a string value contains U+0000 (\u0000) */
    NMT_JSON_NUL_IN_KEY,   /* JSON, but an object key contains U+0000 */
    NMT_JSON_TOO_DEEP      /* nested deeper than max_depth */
} nmt_json_verdict;

typedef struct nmt_json_problem {
    nmt_json_verdict verdict;
    size_t offset;       /* byte of body where the problem is */
    const char *what;    /* static text: "raw control character in a string", ... */
} nmt_json_problem;

/* Checks that s[0..len) is exactly one JSON value (surrounded by optional
 * whitespace), nested at most max_depth arrays/objects deep, with no
 * U+0000 in any string.  UTF-8 validity is the caller's check.  Returns
 * the verdict (also stored in p). */
nmt_json_verdict nmt_json_check(const char *s, size_t len, int max_depth, nmt_json_problem *p);

struct cJSON;
/* Finds a key that appears twice in one object anywhere in the tree.
 * Only meaningful on a tree whose keys hold no U+0000 (checked above).
 * Returns 1 and sets *key (pointing into the tree) if there is one, 0 if
 * not, -1 when out of memory.  The tree is not modified. */
int nmt_json_duplicate_key(const struct cJSON *root, const char **key);

#endif
