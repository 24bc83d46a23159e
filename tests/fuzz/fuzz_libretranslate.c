/* fuzz_libretranslate.c: fuzz target for LibreTranslate's request parser
 * (nmt_lt_parse) and, through it, the urlencoded and multipart form parsers
 * (form.c).  The first byte picks the Content-Type (JSON, urlencoded, or
 * multipart with the boundary "XyZ") and /translate or /detect; the rest is
 * the body.  A success must hold what the header promises: one text (or a list),
 * each valid UTF-8 without NUL and within the limits, source and target set
 * for /translate, and an answer built from it that parses as JSON. */
#include <cJSON.h>
#include <string.h>

#include "fuzz.h"
#include "libretranslate.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const types[] = {"application/json", "application/x-www-form-urlencoded",
                                        "multipart/form-data; boundary=XyZ", "multipart/form-data; boundary=\"XyZ\""};
    const char *type = types[data[0] & 3];
    int detect = (data[0] >> 2) & 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    nmt_api_limits limits = {.max_sentences = 8, .max_chars = 200, .max_length_limit = 100};
    nmt_lt_request req;
    nmt_api_error e;
    if (nmt_lt_parse(detect, type, body, len, NULL, &limits, &req, &e)) {
        FUZZ_CHECK(e.status == 400 || e.status == 500, "status %d", e.status);
        FUZZ_CHECK(e.message[0] != '\0', "an error without a message");
        return 0;
    }
    FUZZ_CHECK(req.text.n >= !req.text.is_list && req.text.n <= limits.max_sentences, "%d texts", req.text.n);
    for (int i = 0; i < req.text.n; i++) {
        FUZZ_CHECK(strlen(req.text.texts[i]) == req.text.lens[i], "text %d holds NUL", i);
        FUZZ_CHECK(nmt_utf8_valid(req.text.texts[i], req.text.lens[i]), "text %d not UTF-8", i);
        FUZZ_CHECK(nmt_utf8_length(req.text.texts[i], req.text.lens[i]) <= (size_t)limits.max_chars, "text %d long", i);
    }
    if (!detect)
        FUZZ_CHECK(req.source[0] && req.target[0], "source or target missing");
    nmt_detection d[8];
    for (int i = 0; i < req.text.n; i++)
        d[i] = (nmt_detection){.language = "en", .confidence = 50};
    char *answer = nmt_lt_translate_body(&req, (const char *const *)req.text.texts, req.source[0] == 'a' ? d : NULL);
    cJSON *root = answer ? cJSON_Parse(answer) : NULL;
    FUZZ_CHECK(root != NULL, "the answer is not JSON");
    FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(root, "translatedText") != NULL, "no translatedText");
    cJSON_Delete(root);
    free(answer);
    nmt_lt_request_free(&req);
    return 0;
}
