/* languages.h: language codes as clients and models write them.  One table
 * of the languages OPUS-MT serves, each with its ISO 639-1 code, its ISO
 * 639-3 code, the ISO 639-2/B code where that differs, and its English name;
 * lookups ignore case.  A code outside the table still matches itself. */
#ifndef NMT_LANGUAGES_H
#define NMT_LANGUAGES_H

typedef struct nmt_language {
    const char *iso1;  /* "de" */
    const char *iso3;  /* "deu" */
    const char *iso2b; /* "ger", or NULL where it equals iso3 */
    const char *name;  /* "German" */
} nmt_language;

/* The table entry for code (any of its codes, any case), or NULL. */
const nmt_language *nmt_language_find(const char *code);

/* Whether a and b name the same language: the same table entry, or (for
 * codes outside the table) equal ignoring case.  Empty codes match nothing. */
int nmt_language_same(const char *a, const char *b);

/* The English name for code, or code itself when it is not in the table. */
const char *nmt_language_name(const char *code);

#endif
