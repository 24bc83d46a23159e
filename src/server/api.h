/* api.h: the JSON side of the HTTP API, without sockets: request bodies in,
 * response and error bodies out (cJSON).  Every client-controlled number has
 * a cap.  Pure functions; thread-safe (cJSON is used with explicit lengths and
 * parse-end pointers, never its global error pointer). */
#ifndef NMT_API_H
#define NMT_API_H

#include <stddef.h>

#include "nmt_config.h"
#include "translator.h"

typedef struct nmt_api_limits {
    int max_sentences;    /* sentences per request */
    int max_chars;        /* characters (code points) per text */
    int max_length_limit; /* largest "max_length" a request may ask for */
} nmt_api_limits;

/* A parsed POST /translate body. */
typedef struct nmt_api_request {
    int is_list;   /* "text" was a list: answer {"translations": [...]} */
    int n;
    char **texts;  /* [n] NUL-terminated UTF-8 (owned) */
    size_t *lens;  /* [n] bytes */
    int max_length; /* 0 = the model's default */
    int split;      /* cut each text into sentences ("split", default true) */
    char source[32]; /* "source", "target", "model": where it goes ("" = not said; model_set.h) */
    char target[32];
    char model[128];
} nmt_api_request;

/* A client error: HTTP status, stable code, human message. */
typedef struct nmt_api_error {
    int status;
    const char *code;
    char message[256];
} nmt_api_error;

/* Parses body (len bytes, any Content-Type).  Returns 0, or -1 with e filled
 * (400: invalid_json (not strict RFC 8259 JSON, or a duplicate key),
 * invalid_text (a string holds U+0000), invalid_utf8, invalid_request (also
 * a "source", "target" or "model" that is not a short string), too_many_sentences,
 * text_too_long, invalid_max_length, invalid_split; 500: internal on out of
 * memory). */
int nmt_api_parse_translate(const char *body, size_t len, const nmt_api_limits *limits, nmt_api_request *req,
                            nmt_api_error *e);
void nmt_api_request_free(nmt_api_request *req);

/* The pieces of the parser, shared with the LibreTranslate API: */
/* Fills e (status, code, printf message) and returns -1. */
int nmt_api_fail(nmt_api_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
typedef struct cJSON cJSON;
/* A body checked as strict JSON (as above) that must be an object; expected
 * names what was wanted, for the messages.  The caller owns the result
 * (cJSON_Delete); NULL with e filled. */
cJSON *nmt_api_parse_object(const char *body, size_t len, const char *expected, nmt_api_error *e);
/* Fills req's texts from value, a string or a list of strings, named field
 * in messages (is_list from its shape): the same checks and limits as
 * "text".  0, or -1 with e filled (req then needs nmt_api_request_free). */
int nmt_api_take_texts(nmt_api_request *req, const cJSON *value, const char *field, const nmt_api_limits *limits,
                       nmt_api_error *e);
/* The same for one text given as bytes (a form field): NUL and invalid
 * UTF-8 are refused. */
int nmt_api_take_text_bytes(nmt_api_request *req, const char *s, size_t len, const char *field,
                            const nmt_api_limits *limits, nmt_api_error *e);

/* {"translation": "..."} or {"translations": [...]}, with "pivot": pivot
 * when the texts went through that language (NULL: they did not).
 * malloc'd; NULL if out of memory. */
char *nmt_api_translate_body(const nmt_api_request *req, const char *const *translations, const char *pivot);

/* One served model as GET /v1/model shows it. */
typedef struct nmt_api_model {
    nmt_translator_info info;
    const char *source;          /* "" = any */
    const char *const *targets;  /* n_targets codes; 0 = any */
    int n_targets;
    double load_seconds;
} nmt_api_model;

/* The body of GET /v1/model: every model's name, languages and dimensions
 * ("models"; "model" is the first, as when one was served) and the batching
 * settings (malloc'd; NULL if out of memory). */
char *nmt_api_model_body(const nmt_api_model *models, int n, const nmt_config *cfg);

/* {"error": {"code": code, "message": message}} (malloc'd; NULL if out of memory). */
char *nmt_api_error_body(const char *code, const char *message);

#endif
