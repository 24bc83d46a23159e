/* languages.c: the language table and its lookups (see languages.h). */
#include "languages.h"

#include <stddef.h>
#include <strings.h>

static const nmt_language table[] = {
    {"af", "afr", NULL, "Afrikaans"},    {"am", "amh", NULL, "Amharic"},       {"ar", "ara", NULL, "Arabic"},
    {"az", "aze", NULL, "Azerbaijani"},  {"be", "bel", NULL, "Belarusian"},    {"bg", "bul", NULL, "Bulgarian"},
    {"bn", "ben", NULL, "Bengali"},      {"bs", "bos", NULL, "Bosnian"},       {"ca", "cat", NULL, "Catalan"},
    {"cs", "ces", "cze", "Czech"},       {"cy", "cym", "wel", "Welsh"},        {"da", "dan", NULL, "Danish"},
    {"de", "deu", "ger", "German"},      {"el", "ell", "gre", "Greek"},        {"en", "eng", NULL, "English"},
    {"eo", "epo", NULL, "Esperanto"},    {"es", "spa", NULL, "Spanish"},       {"et", "est", NULL, "Estonian"},
    {"eu", "eus", "baq", "Basque"},      {"fa", "fas", "per", "Persian"},      {"fi", "fin", NULL, "Finnish"},
    {"fr", "fra", "fre", "French"},      {"ga", "gle", NULL, "Irish"},         {"gl", "glg", NULL, "Galician"},
    {"gu", "guj", NULL, "Gujarati"},     {"he", "heb", NULL, "Hebrew"},        {"hi", "hin", NULL, "Hindi"},
    {"hr", "hrv", NULL, "Croatian"},     {"ht", "hat", NULL, "Haitian Creole"}, {"hu", "hun", NULL, "Hungarian"},
    {"hy", "hye", "arm", "Armenian"},    {"id", "ind", NULL, "Indonesian"},    {"is", "isl", "ice", "Icelandic"},
    {"it", "ita", NULL, "Italian"},      {"ja", "jpn", NULL, "Japanese"},      {"ka", "kat", "geo", "Georgian"},
    {"kk", "kaz", NULL, "Kazakh"},       {"kn", "kan", NULL, "Kannada"},       {"ko", "kor", NULL, "Korean"},
    {"ku", "kur", NULL, "Kurdish"},      {"ky", "kir", NULL, "Kyrgyz"},        {"lb", "ltz", NULL, "Luxembourgish"},
    {"lt", "lit", NULL, "Lithuanian"},   {"lv", "lav", NULL, "Latvian"},       {"mg", "mlg", NULL, "Malagasy"},
    {"mk", "mkd", "mac", "Macedonian"},  {"ml", "mal", NULL, "Malayalam"},     {"mn", "mon", NULL, "Mongolian"},
    {"mr", "mar", NULL, "Marathi"},      {"ms", "msa", "may", "Malay"},        {"mt", "mlt", NULL, "Maltese"},
    {"nb", "nob", NULL, "Norwegian Bokmål"}, {"ne", "nep", NULL, "Nepali"},    {"nl", "nld", "dut", "Dutch"},
    {"nn", "nno", NULL, "Norwegian Nynorsk"}, {"no", "nor", NULL, "Norwegian"}, {"pa", "pan", NULL, "Punjabi"},
    {"pl", "pol", NULL, "Polish"},       {"pt", "por", NULL, "Portuguese"},    {"ro", "ron", "rum", "Romanian"},
    {"ru", "rus", NULL, "Russian"},      {"sk", "slk", "slo", "Slovak"},       {"sl", "slv", NULL, "Slovenian"},
    {"sq", "sqi", "alb", "Albanian"},    {"sr", "srp", NULL, "Serbian"},       {"sv", "swe", NULL, "Swedish"},
    {"sw", "swa", NULL, "Swahili"},      {"ta", "tam", NULL, "Tamil"},         {"te", "tel", NULL, "Telugu"},
    {"th", "tha", NULL, "Thai"},         {"tl", "tgl", NULL, "Tagalog"},       {"tr", "tur", NULL, "Turkish"},
    {"uk", "ukr", NULL, "Ukrainian"},    {"ur", "urd", NULL, "Urdu"},          {"uz", "uzb", NULL, "Uzbek"},
    {"vi", "vie", NULL, "Vietnamese"},   {"xh", "xho", NULL, "Xhosa"},         {"yi", "yid", NULL, "Yiddish"},
    {"zh", "zho", "chi", "Chinese"},     {"zu", "zul", NULL, "Zulu"},
};

const nmt_language *nmt_language_find(const char *code)
{
    if (!code || !code[0])
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const nmt_language *l = &table[i];
        if (strcasecmp(code, l->iso1) == 0 || strcasecmp(code, l->iso3) == 0 ||
            (l->iso2b && strcasecmp(code, l->iso2b) == 0))
            return l;
    }
    return NULL;
}

int nmt_language_same(const char *a, const char *b)
{
    if (!a || !b || !a[0] || !b[0])
        return 0;
    const nmt_language *la = nmt_language_find(a), *lb = nmt_language_find(b);
    if (la || lb)
        return la == lb;
    return strcasecmp(a, b) == 0;
}

const char *nmt_language_name(const char *code)
{
    const nmt_language *l = nmt_language_find(code);
    return l ? l->name : code;
}
