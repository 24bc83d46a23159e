/* model_set.h: the models one daemon serves, the languages each translates
 * from and into, and the route a request takes.  A model's source is
 * tokenizer_config.json's source_lang (or a model_languages entry); its
 * targets are the >>xxx<< tokens of its vocabulary when it has them (a
 * multilingual target model: the route carries the token, which the
 * batcher puts before every segment), else target_lang.  Codes are matched
 * across ISO 639-1, 639-3 and 639-2/B, any case (languages.h), and shown in
 * their shortest form.  A pair no model serves goes through the pivot
 * language when one model translates the source into it and another
 * translates it into the target.
 *
 * Built once at start-up from loaded translators; immutable afterwards,
 * so any thread may route. */
#ifndef NMT_MODEL_SET_H
#define NMT_MODEL_SET_H

#include <stddef.h>

#include "api.h"
#include "batcher.h"
#include "err.h"
#include "translator.h"

typedef struct nmt_model_set nmt_model_set;

#define NMT_LANG_CODE_MAX 24

/* Starts an empty set; pivot is the pivot language ("" = never pivot). */
nmt_code nmt_model_set_new(nmt_model_set **out, const char *pivot, nmt_err *err);
void nmt_model_set_free(nmt_model_set *s);

/* Adds a loaded translator (the set does not own it) as model number
 * nmt_model_set_count() - 1.  source/target (may be NULL or "") override
 * what the model says.  NMT_ERR_INVALID when a model of the same name is
 * already there. */
nmt_code nmt_model_set_add(nmt_model_set *s, const nmt_translator *tr, const char *source, const char *target,
                           nmt_err *err);

int nmt_model_set_count(const nmt_model_set *s);
/* The pivot language ("" = none). */
const char *nmt_model_set_pivot(const nmt_model_set *s);
const nmt_translator *nmt_model_set_translator(const nmt_model_set *s, int model);
const char *nmt_model_set_name(const nmt_model_set *s, int model);
/* The model's source language ("" = any) and its targets (n = 0: any). */
const char *nmt_model_set_source(const nmt_model_set *s, int model);
int nmt_model_set_target_count(const nmt_model_set *s, int model);
const char *nmt_model_set_target(const nmt_model_set *s, int model, int i);
/* "en-de", "en-{fr,es,it}", "*-de": for logs and messages. */
void nmt_model_set_describe(const nmt_model_set *s, int model, char *buf, size_t cap);

/* Where a request goes.  model (a model's name), source and target may each
 * be NULL or "".  With one model, none is needed; otherwise source and
 * target choose it (a model that names the source exactly is preferred to
 * one that takes any, a one-target model to a multilingual one, then the
 * order of the configuration), or model does.  Returns 0 with *route set,
 * or -1 with e filled: 400 unknown_model, unsupported_language_pair (the
 * message lists what is served), language_required (several models and not
 * enough said to choose). */
int nmt_model_set_route(const nmt_model_set *s, const char *model, const char *source, const char *target,
                        nmt_route *route, nmt_api_error *e);

/* The languages a text may be detected as: every served source that
 * reaches target (directly or through the pivot; target NULL or "": any),
 * each once.  Returns how many were written to out (at most max). */
int nmt_model_set_sources(const nmt_model_set *s, const char *target, const char **out, int max);

/* The targets source reaches (directly or through the pivot), each once. */
int nmt_model_set_targets(const nmt_model_set *s, const char *source, const char **out, int max);

/* Every served language: sources, then targets that are no source, each
 * once. */
int nmt_model_set_languages(const nmt_model_set *s, const char **out, int max);

#endif
