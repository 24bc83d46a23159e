// detect_cld2.cc: nmt_detect_language (detect.h) over CLD2's C++ API, the
// only C++ in the server.  CLD2 names a language by its ISO 639-1 code where
// one exists ("en", "zh"), which languages.c matches against the candidates.
#include <cstdio> // compact_lang_det.h uses FILE without including it
#include <cld2/public/compact_lang_det.h>
#include <climits>

extern "C" {
#include "detect.h"
#include "languages.h"
}

extern "C" int nmt_detect_language(const char *text, size_t len, const char *const *candidates, int n,
                                   nmt_detection *out, int max)
{
    if (len > INT_MAX)
        len = INT_MAX; // CLD2 takes an int; the first 2 GiB tell the language
    CLD2::Language language3[3];
    int percent3[3], text_bytes = 0;
    bool reliable = false;
    CLD2::DetectLanguageSummary(text, static_cast<int>(len), true, language3, percent3, &text_bytes, &reliable);
    int found = 0;
    for (int i = 0; i < 3 && found < max; i++) {
        if (language3[i] == CLD2::UNKNOWN_LANGUAGE || percent3[i] <= 0)
            continue;
        const char *code = CLD2::LanguageCode(language3[i]);
        for (int c = 0; c < n; c++)
            if (nmt_language_same(code, candidates[c])) {
                out[found].language = candidates[c];
                out[found].confidence = percent3[i];
                out[found].reliable = reliable;
                found++;
                break;
            }
    }
    return found;
}
