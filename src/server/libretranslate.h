/* libretranslate.h: LibreTranslate's API on nmtd's port, without sockets,
 * so that the clients that speak it (Weblate, Mastodon, Discourse,
 * Nextcloud, browser add-ons) work unchanged.  Requests come as JSON,
 * application/x-www-form-urlencoded, multipart/form-data or a query string;
 * POST /translate is LibreTranslate's when it has "q" (nmtd's own API uses
 * "text").  Answers and errors take LibreTranslate's shapes:
 *   {"translatedText": "..." | [...], "detectedLanguage": {...} | [...]}
 *   [{"code", "name", "targets"}]           GET /languages
 *   [{"confidence", "language"}]            POST /detect
 *   {"error": "message"}                    400, 403, 429, 500 ...
 * Pure functions of their input; thread-safe. */
#ifndef NMT_LIBRETRANSLATE_H
#define NMT_LIBRETRANSLATE_H

#include <stddef.h>

#include "api.h"
#include "detect.h"
#include "form.h"
#include "model_set.h"

/* A parsed LibreTranslate request: the texts in nmtd's own form plus the
 * fields only LibreTranslate has. */
typedef struct nmt_lt_request {
    nmt_api_request text; /* "q": texts, is_list from its shape; split = 1, max_length 0 */
    char source[16];      /* as sent; "auto" = detect */
    char target[16];
    char api_key[128];    /* "" when absent or empty */
    int html;             /* format "html": translate the text nodes only (html_text.h) */
} nmt_lt_request;

/* Whether a POST /translate with this Content-Type and body speaks
 * LibreTranslate's API: a multipart body, a urlencoded body with q (or one
 * that is not a valid form), a JSON object with "q", or "q" in the query
 * string (query_has_q).  A body that starts with '{' or '[' is JSON whatever
 * its Content-Type (curl -d labels everything urlencoded). */
int nmt_lt_is_libretranslate(const char *content_type, const char *body, size_t len, int query_has_q);

/* Parses a POST /translate (detect = 0) or POST /detect (detect = 1) request
 * from the body (JSON, urlencoded or multipart, by content_type and a
 * leading '{') and the query string's fields (query, may be NULL): a JSON
 * body's fields are the whole request; a form's win over the query
 * string's, which alone make the request when the body is empty.  /translate needs q
 * (string or list of strings), source and target; format "text" (default)
 * or "html"; alternatives 0; /detect needs q as a string.  Texts follow the
 * limits of nmtd's own API.  Returns 0, or -1 with e filled (status 400, or
 * 500 out of memory; e->code is nmtd's code for logs and metrics, the
 * message is what the client reads). */
int nmt_lt_parse(int detect, const char *content_type, const char *body, size_t len, const nmt_form *query,
                 const nmt_api_limits *limits, nmt_lt_request *req, nmt_api_error *e);
void nmt_lt_request_free(nmt_lt_request *req);

/* {"translatedText": ...} in the shape of q; with detected (one per text,
 * for source "auto") also "detectedLanguage".  malloc'd; NULL if out of
 * memory. */
char *nmt_lt_translate_body(const nmt_lt_request *req, const char *const *translations,
                            const nmt_detection *detected);

/* [{"confidence": c, "language": code}, ...] best first; an empty list when
 * n is 0.  malloc'd. */
char *nmt_lt_detect_body(const nmt_detection *found, int n);

/* GET /languages: every served language with its name and the targets it
 * translates into (directly or through the pivot language).  malloc'd. */
char *nmt_lt_languages_body(const nmt_model_set *models);

/* {"error": message}.  malloc'd. */
char *nmt_lt_error_body(const char *message);

#endif
