/* libretranslate.c: LibreTranslate's request fields in, its answer shapes
 * out (see libretranslate.h).  A JSON body's fields are the request's (as in
 * LibreTranslate); a form's fields win over the query string's, which alone
 * make the request when the body is empty.  JSON bodies get the same strict
 * checks as nmtd's own. */
#include "libretranslate.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "languages.h"

/* the media type of a Content-Type header value, compared without its
 * parameters and case */
static int media_type_is(const char *content_type, const char *type)
{
    if (!content_type)
        return 0;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    size_t n = strlen(type);
    return strncasecmp(content_type, type, n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ' || content_type[n] == '\t');
}

/* A body that starts with '{' is JSON whatever its Content-Type says: curl -d
 * labels everything application/x-www-form-urlencoded. */
static int looks_like_json(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    return i < len && (body[i] == '{' || body[i] == '[');
}

static int is_multipart(const char *content_type) { return media_type_is(content_type, "multipart/form-data"); }

/* a urlencoded body: labelled so, and not JSON */
static int is_urlencoded(const char *content_type, const char *body, size_t len)
{
    return media_type_is(content_type, "application/x-www-form-urlencoded") && !looks_like_json(body, len);
}

int nmt_lt_is_libretranslate(const char *content_type, const char *body, size_t len, int query_has_q)
{
    if (!body)
        body = "", len = 0;
    if (query_has_q || is_multipart(content_type))
        return 1;
    if (is_urlencoded(content_type, body, len)) {
        nmt_form *form = calloc(1, sizeof *form);
        char err[160];
        /* a form with q is LibreTranslate's; one that does not parse is too
         * (its error says why); anything else is nmtd's (invalid_json) */
        int lt = form && (nmt_form_parse_urlencoded(form, body, len, err, sizeof err) != 0 ||
                          nmt_form_get(form, "q", NULL) != NULL);
        if (form) {
            nmt_form_free(form);
            free(form);
        }
        return lt;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    int lt = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "q") != NULL;
    cJSON_Delete(root);
    return lt;
}

void nmt_lt_request_free(nmt_lt_request *req)
{
    if (req)
        nmt_api_request_free(&req->text);
}

/* ---- fields, whichever way they came ---------------------------------- */

/* One request's fields: a JSON object, or a form (the body's) over the
 * query string's. */
typedef struct fields {
    const cJSON *json;
    const nmt_form *form;
    const nmt_form *query;
} fields;

/* A form field: the body's, else the query string's; *count says how often
 * it was given there. */
static const nmt_form_field *form_lookup(const fields *f, const char *name, int *count)
{
    *count = 0;
    const nmt_form_field *field = f->form ? nmt_form_get(f->form, name, count) : NULL;
    if (!field && f->query)
        field = nmt_form_get(f->query, name, count);
    return field;
}

/* A short string field into out ("" when absent); -1 with e filled when it
 * is not a string, holds NUL or is longer than cap - 1 bytes. */
static int get_string(const fields *f, const char *name, char *out, size_t cap, nmt_api_error *e)
{
    out[0] = '\0';
    const char *s = NULL;
    size_t len = 0;
    if (f->json) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->json, name);
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsString(v))
                return nmt_api_fail(e, 400, "invalid_request", "Invalid request: %s must be a string", name);
            s = v->valuestring;
            len = strlen(s);
        }
    } else {
        int count;
        const nmt_form_field *field = form_lookup(f, name, &count);
        if (count > 1)
            return nmt_api_fail(e, 400, "invalid_request", "Invalid request: %s given %d times", name, count);
        if (field) {
            s = field->value;
            len = field->value_len;
        }
    }
    if (!s)
        return 0;
    if (len >= cap || memchr(s, '\0', len))
        return nmt_api_fail(e, 400, "invalid_request", "Invalid request: %s is not a valid value (at most %zu bytes)", name,
                    cap - 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int take_q(const fields *f, int detect, const nmt_api_limits *limits, nmt_lt_request *req, nmt_api_error *e)
{
    if (f->json) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(f->json, "q");
        if (!q || cJSON_IsNull(q))
            return nmt_api_fail(e, 400, "invalid_request", "Invalid request: missing q parameter");
        if (detect && !cJSON_IsString(q))
            return nmt_api_fail(e, 400, "invalid_request", "Invalid request: q must be a string");
        return nmt_api_take_texts(&req->text, q, "q", limits, e);
    }
    int count;
    const nmt_form_field *q = form_lookup(f, "q", &count);
    if (!q)
        return nmt_api_fail(e, 400, "invalid_request", "Invalid request: missing q parameter");
    if (count > 1)
        return nmt_api_fail(e, 400, "invalid_request",
                    "Invalid request: q given %d times (send a JSON list to translate several texts)", count);
    return nmt_api_take_text_bytes(&req->text, q->value, q->value_len, "q", limits, e);
}

/* "alternatives" is 0 or absent: greedy decoding gives one translation */
static int check_alternatives(const fields *f, nmt_api_error *e)
{
    if (f->json) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->json, "alternatives");
        if (!v || cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble == 0))
            return 0;
        if (!cJSON_IsNumber(v) && !cJSON_IsString(v))
            return nmt_api_fail(e, 400, "invalid_request", "Invalid request: alternatives must be a number");
        if (cJSON_IsString(v) && strcmp(v->valuestring, "0") == 0)
            return 0;
    } else {
        char value[16];
        if (get_string(f, "alternatives", value, sizeof value, e))
            return -1;
        if (value[0] == '\0' || strcmp(value, "0") == 0)
            return 0;
    }
    return nmt_api_fail(e, 400, "invalid_alternatives",
                "Invalid request: alternatives are not supported (greedy decoding gives one translation); send 0");
}

static int parse_fields(int detect, const fields *f, const nmt_api_limits *limits, nmt_lt_request *req,
                        nmt_api_error *e)
{
    if (take_q(f, detect, limits, req, e))
        return -1;
    req->text.split = 1;
    if (get_string(f, "api_key", req->api_key, sizeof req->api_key, e))
        return -1;
    if (detect)
        return 0;
    char format[16];
    if (get_string(f, "source", req->source, sizeof req->source, e) ||
        get_string(f, "target", req->target, sizeof req->target, e) || get_string(f, "format", format, sizeof format, e))
        return -1;
    if (!req->source[0])
        return nmt_api_fail(e, 400, "invalid_request", "Invalid request: missing source parameter");
    if (!req->target[0])
        return nmt_api_fail(e, 400, "invalid_request", "Invalid request: missing target parameter");
    req->html = strcmp(format, "html") == 0;
    if (format[0] && strcmp(format, "text") != 0 && !req->html)
        return nmt_api_fail(e, 400, "unsupported_format", "%.32s format is not supported", format);
    return check_alternatives(f, e);
}

int nmt_lt_parse(int detect, const char *content_type, const char *body, size_t len, const nmt_form *query,
                 const nmt_api_limits *limits, nmt_lt_request *req, nmt_api_error *e)
{
    memset(req, 0, sizeof *req);
    fields f = {.query = query};
    nmt_form *form = NULL;
    cJSON *root = NULL;
    int rc = -1;
    if (is_multipart(content_type) || is_urlencoded(content_type, body, len)) {
        if (!(form = calloc(1, sizeof *form)))
            return nmt_api_fail(e, 500, "internal", "out of memory");
        char err[160];
        int bad = is_multipart(content_type) ? nmt_form_parse_multipart(form, content_type, body, len, err, sizeof err)
                                             : nmt_form_parse_urlencoded(form, body, len, err, sizeof err);
        if (bad) {
            nmt_api_fail(e, 400, "invalid_form", "Invalid request: %s", err);
            goto out;
        }
        f.form = form;
    } else if (len > 0 || !query) {
        if (!(root = nmt_api_parse_object(body, len, "{\"q\": \"...\", \"source\": \"...\", \"target\": \"...\"}", e)))
            goto out;
        f.json = root;
    }
    rc = parse_fields(detect, &f, limits, req, e);
out:
    cJSON_Delete(root);
    if (form) {
        nmt_form_free(form);
        free(form);
    }
    if (rc)
        nmt_lt_request_free(req);
    return rc;
}

/* ---- languages ---------------------------------------------------------- */


/* ---- answers ------------------------------------------------------------ */

static char *print_and_free(cJSON *root)
{
    char *out = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return out;
}

static cJSON *detection_object(const nmt_detection *d)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "confidence", round(d->confidence * 10) / 10);
        cJSON_AddStringToObject(o, "language", d->language);
    }
    return o;
}

char *nmt_lt_translate_body(const nmt_lt_request *req, const char *const *translations,
                            const nmt_detection *detected)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (req->text.is_list) {
        cJSON *list = cJSON_AddArrayToObject(root, "translatedText");
        for (int i = 0; list && i < req->text.n; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(translations[i]));
        if (detected) {
            cJSON *dl = cJSON_AddArrayToObject(root, "detectedLanguage");
            for (int i = 0; dl && i < req->text.n; i++)
                cJSON_AddItemToArray(dl, detection_object(&detected[i]));
        }
    } else {
        cJSON_AddStringToObject(root, "translatedText", translations[0]);
        if (detected)
            cJSON_AddItemToObject(root, "detectedLanguage", detection_object(&detected[0]));
    }
    return print_and_free(root);
}

char *nmt_lt_detect_body(const nmt_detection *found, int n)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; list && i < n; i++)
        cJSON_AddItemToArray(list, detection_object(&found[i]));
    return print_and_free(list);
}


char *nmt_lt_languages_body(const nmt_model_set *models)
{
    cJSON *list = cJSON_CreateArray();
    const char *langs[256], *targets[256];
    int n = nmt_model_set_languages(models, langs, 256);
    for (int i = 0; list && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "code", langs[i]);
        cJSON_AddStringToObject(o, "name", nmt_language_name(langs[i]));
        cJSON *t = cJSON_AddArrayToObject(o, "targets");
        int k = nmt_model_set_targets(models, langs[i], targets, 256);
        for (int j = 0; t && j < k; j++)
            cJSON_AddItemToArray(t, cJSON_CreateString(targets[j]));
        cJSON_AddItemToArray(list, o);
    }
    return print_and_free(list);
}

char *nmt_lt_error_body(const char *message)
{
    cJSON *root = cJSON_CreateObject();
    if (root)
        cJSON_AddStringToObject(root, "error", message);
    return print_and_free(root);
}
