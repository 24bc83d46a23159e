/* fuzz_api.c: fuzz target for the JSON request parser of POST /translate,
 * called only through its public signature (nmt_api_parse_translate).  The
 * input is the request body; the limits are small (16 sentences of 256
 * characters, max_length up to 512) so that short inputs reach every cap.
 *
 * Always checked, on success: at most max_sentences texts (exactly one when
 * "text" is a string), max_length 0 or inside its bounds, each text valid
 * UTF-8 of lens[i] bytes with no NUL inside and at most max_chars code
 * points; the response body can be built.  On failure: a 400 or 500 with a
 * code and a message, and an error body can be built.
 *
 * It also checks the strict text rules (json_check.c): a request whose JSON
 * strings hold a NUL (raw or \u0000) or a raw control character, or whose
 * objects repeat a key, must be refused.  NMT_FUZZ_API_STRICT=0 in the
 * environment turns that check off. */
#include <cJSON.h>
#include <string.h>

#include "api.h"
#include "fuzz.h"
#include "utf8.h"

static const nmt_api_limits limits = {.max_sentences = 16, .max_chars = 256, .max_length_limit = 512};

/* 1 when some string of the JSON text holds a NUL (raw or \u0000) or a raw
 * control character (below 0x20); a NUL outside strings counts too. */
static int has_bad_char(const char *s, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0)
            return 1;
        if (!in_string) {
            in_string = ch == '"';
        } else if (ch == '"') {
            in_string = 0;
        } else if (ch < 0x20) {
            return 1;
        } else if (ch == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
                return 1;
            i++;
        }
    }
    return 0;
}

/* 1 when some object in the tree has the same key twice. */
static int has_duplicate_key(const cJSON *node)
{
    for (const cJSON *a = node ? node->child : NULL; a; a = a->next) {
        if (cJSON_IsObject(node))
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return 1;
        if (has_duplicate_key(a))
            return 1;
    }
    return 0;
}

static int strict(void)
{
    static int on = -1;
    if (on < 0) {
        const char *v = getenv("NMT_FUZZ_API_STRICT");
        on = !(v && strcmp(v, "0") == 0);
    }
    return on;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    nmt_api_request req;
    nmt_api_error e;
    memset(&e, 0, sizeof e);
    if (nmt_api_parse_translate(body, size, &limits, &req, &e) != 0) {
        FUZZ_CHECK(e.status == 400 || e.status == 500, "status %d", e.status);
        FUZZ_CHECK(e.code != NULL && e.code[0] != '\0', "no error code");
        FUZZ_CHECK(memchr(e.message, '\0', sizeof e.message) != NULL, "message not terminated");
        char *out = nmt_api_error_body(e.code, e.message);
        FUZZ_CHECK(out != NULL, "no error body");
        free(out);
        return 0;
    }
    FUZZ_CHECK(req.n >= 0 && req.n <= limits.max_sentences, "%d sentences", req.n);
    FUZZ_CHECK(req.is_list || req.n == 1, "a string gave %d texts", req.n);
    FUZZ_CHECK(req.max_length == 0 || (req.max_length >= 1 && req.max_length <= limits.max_length_limit),
               "max_length %d", req.max_length);
    for (int i = 0; i < req.n; i++) {
        FUZZ_CHECK(req.texts[i] != NULL, "text %d missing", i);
        FUZZ_CHECK(strlen(req.texts[i]) == req.lens[i], "text %d: %zu bytes, lens says %zu", i,
                   strlen(req.texts[i]), req.lens[i]);
        FUZZ_CHECK(nmt_utf8_valid(req.texts[i], req.lens[i]), "text %d is not UTF-8", i);
        FUZZ_CHECK(nmt_utf8_length(req.texts[i], req.lens[i]) <= (size_t)limits.max_chars, "text %d too long", i);
    }
    if (strict()) {
        FUZZ_CHECK(!has_bad_char(body, size), "accepted a NUL or a raw control character in a string");
        cJSON *tree = cJSON_ParseWithLength(body, size);
        int dup = has_duplicate_key(tree);
        cJSON_Delete(tree);
        FUZZ_CHECK(!dup, "accepted an object with a repeated key");
    }
    char *out = nmt_api_translate_body(&req, (const char *const *)req.texts, NULL);
    FUZZ_CHECK(out != NULL, "no response body");
    free(out);
    nmt_api_request_free(&req);
    return 0;
}
