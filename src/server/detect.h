/* detect.h: which language a text is written in, by Compact Language
 * Detector 2 (Debian's libcld2), restricted to the languages a caller can
 * use.  Thread-safe (CLD2 keeps no state between calls). */
#ifndef NMT_DETECT_H
#define NMT_DETECT_H

#include <stddef.h>

typedef struct nmt_detection {
    const char *language; /* one of the candidates given (the caller's string) */
    double confidence;    /* 0..100: the share of the text CLD2 gave it */
    int reliable;         /* CLD2 found enough text to be sure */
} nmt_detection;

/* Detects the language of text[0..len) (valid UTF-8) among candidates[0..n)
 * (codes as models write them: ISO 639-1 or -3, any case).  Fills out with at
 * most max candidates CLD2 found in the text, best first, and returns how
 * many (0: none of the candidates, or too little text to tell). */
int nmt_detect_language(const char *text, size_t len, const char *const *candidates, int n, nmt_detection *out,
                        int max);

#endif
