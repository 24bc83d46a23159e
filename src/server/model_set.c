/* model_set.c: the served models and routing (see model_set.h).  A handful
 * of models at most: every lookup is a linear scan. */
#include "model_set.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "languages.h"
#include "log.h"

typedef struct model_target {
    char code[NMT_LANG_CODE_MAX];  /* shown and matched */
    char token[NMT_LANG_CODE_MAX]; /* the >>token<< name, "" for a one-target model */
    int token_id;                  /* 0: none */
} model_target;

typedef struct entry {
    const nmt_translator *tr;
    const char *name;
    char source[NMT_LANG_CODE_MAX]; /* "" = any */
    model_target *targets;
    int n_targets;                  /* 0 = any */
} entry;

struct nmt_model_set {
    entry *models;
    int n, cap;
    char pivot[NMT_LANG_CODE_MAX];
};

/* The form a code is shown in: ISO 639-1 where the table has it, else the
 * code in lower case.  A token such as "pt_br" whose base is known keeps
 * its own name; "mul" and "" mean any language (""). */
static void canonical(const char *code, char out[NMT_LANG_CODE_MAX])
{
    const nmt_language *l = nmt_language_find(code);
    if (l) {
        snprintf(out, NMT_LANG_CODE_MAX, "%s", l->iso1 ? l->iso1 : l->iso3);
        return;
    }
    size_t i = 0;
    for (; code[i] && i + 1 < NMT_LANG_CODE_MAX; i++)
        out[i] = (char)tolower((unsigned char)code[i]);
    out[i] = '\0';
    if (strcmp(out, "mul") == 0)
        out[0] = '\0';
}

nmt_code nmt_model_set_new(nmt_model_set **out, const char *pivot, nmt_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    if (pivot && pivot[0])
        canonical(pivot, (*out)->pivot);
    return NMT_OK;
}

void nmt_model_set_free(nmt_model_set *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->models[i].targets);
    free(s->models);
    free(s);
}

nmt_code nmt_model_set_add(nmt_model_set *s, const nmt_translator *tr, const char *source, const char *target_code,
                           nmt_err *err)
{
    const char *name = nmt_translator_name(tr);
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->models[i].name, name) == 0)
            return nmt_err_set(err, NMT_ERR_INVALID, "two models are named %s (a model's name is its directory's): "
                               "rename one directory", name);
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 4;
        entry *grown = realloc(s->models, (size_t)cap * sizeof *grown);
        if (!grown)
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        s->models = grown;
        s->cap = cap;
    }
    nmt_translator_info info;
    nmt_translator_describe(tr, &info);
    entry *e = &s->models[s->n];
    *e = (entry){.tr = tr, .name = name};
    canonical(source && source[0] ? source : info.source_lang, e->source);
    const char *const *tokens;
    int n_tokens = nmt_translator_lang_tokens(tr, &tokens);
    const char *tgt = target_code && target_code[0] ? target_code : info.target_lang;
    int n = n_tokens ? n_tokens : tgt[0] ? 1 : 0;
    e->targets = calloc((size_t)(n ? n : 1), sizeof *e->targets);
    if (!e->targets)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_tokens; i++) {
        model_target *t = &e->targets[i];
        canonical(tokens[i], t->code);
        snprintf(t->token, sizeof t->token, "%s", tokens[i]);
        t->token_id = nmt_translator_lang_token_id(tr, tokens[i]);
    }
    if (!n_tokens && n)
        canonical(tgt, e->targets[0].code);
    e->n_targets = n;
    s->n++;
    return NMT_OK;
}

int nmt_model_set_count(const nmt_model_set *s) { return s->n; }
const char *nmt_model_set_pivot(const nmt_model_set *s) { return s->pivot; }
const nmt_translator *nmt_model_set_translator(const nmt_model_set *s, int model) { return s->models[model].tr; }
const char *nmt_model_set_name(const nmt_model_set *s, int model) { return s->models[model].name; }
const char *nmt_model_set_source(const nmt_model_set *s, int model) { return s->models[model].source; }
int nmt_model_set_target_count(const nmt_model_set *s, int model) { return s->models[model].n_targets; }
const char *nmt_model_set_target(const nmt_model_set *s, int model, int i) { return s->models[model].targets[i].code; }

void nmt_model_set_describe(const nmt_model_set *s, int model, char *buf, size_t cap)
{
    const entry *e = &s->models[model];
    size_t at = (size_t)snprintf(buf, cap, "%s-", e->source[0] ? e->source : "*");
    if (e->n_targets == 0 && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "*");
    if (e->n_targets > 1 && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "{");
    for (int i = 0; i < e->n_targets && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? "," : "", e->targets[i].code);
    if (e->n_targets > 1 && at < cap)
        snprintf(buf + at, cap - at, "}");
}

/* ---- matching ------------------------------------------------------------- */

static int same_code(const char *a, const char *b)
{
    char ca[NMT_LANG_CODE_MAX], cb[NMT_LANG_CODE_MAX];
    canonical(a, ca);
    canonical(b, cb);
    return ca[0] && strcmp(ca, cb) == 0;
}

/* The model's target matching code: a token named exactly so first, then
 * the same language; -1 when none.  A model that names no target takes any
 * (returns 0 with no token). */
static int find_target(const entry *e, const char *code)
{
    if (e->n_targets == 0)
        return 0;
    for (int i = 0; i < e->n_targets; i++)
        if (e->targets[i].token[0] && strcasecmp(e->targets[i].token, code) == 0)
            return i;
    for (int i = 0; i < e->n_targets; i++)
        if (same_code(e->targets[i].code, code))
            return i;
    return -1;
}

/* How well model e serves source -> target: 0 not at all, else higher is
 * better (an exact source, a one-target model).  *t: the target's index. */
static int serves(const entry *e, const char *source, const char *target, int *t)
{
    int src_exact = source[0] && e->source[0] && same_code(e->source, source);
    if (source[0] && e->source[0] && !src_exact)
        return 0;
    if (!target[0]) {
        if (e->n_targets > 1)
            return 0; /* a multilingual model needs to be told */
        *t = 0;
    } else if ((*t = find_target(e, target)) < 0) {
        return 0;
    }
    return 1 + 2 * src_exact + (e->n_targets <= 1);
}

/* The best model for source -> target, or -1. */
static int best_model(const nmt_model_set *s, const char *source, const char *target, int *t)
{
    int best = -1, best_score = 0;
    for (int i = 0; i < s->n; i++) {
        int ti = 0, score = serves(&s->models[i], source, target, &ti);
        if (score > best_score) {
            best = i;
            best_score = score;
            *t = ti;
        }
    }
    return best;
}

static int token_of(const entry *e, int t) { return e->n_targets ? e->targets[t].token_id : 0; }

/* "en-de, de-en, en-{fr,es} (and through en)" into buf. */
static void describe_all(const nmt_model_set *s, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n && at + 1 < cap; i++) {
        char one[160];
        nmt_model_set_describe(s, i, one, sizeof one);
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", one);
    }
    if (s->pivot[0] && s->n > 1 && at + 1 < cap)
        snprintf(buf + at, cap - at, "; other pairs through %s", s->pivot);
}

int nmt_model_set_route(const nmt_model_set *s, const char *model, const char *source, const char *target,
                        nmt_route *route, nmt_api_error *e)
{
    char served[200];
    source = source ? source : "";
    target = target ? target : "";
    *route = (nmt_route){0};
    if (model && model[0]) {
        int m = -1;
        for (int i = 0; i < s->n && m < 0; i++)
            if (strcmp(s->models[i].name, model) == 0)
                m = i;
        if (m < 0) {
            size_t at = 0;
            served[0] = '\0';
            for (int i = 0; i < s->n && at + 1 < sizeof served; i++)
                at += (size_t)snprintf(served + at, sizeof served - at, "%s%s", i ? ", " : "", s->models[i].name);
            return nmt_api_fail(e, 400, "unknown_model", "no model is named \"%.64s\" (served: %s)", model, served);
        }
        const entry *en = &s->models[m];
        int t = 0;
        if (!target[0] && en->n_targets > 1) {
            nmt_model_set_describe(s, m, served, sizeof served);
            return nmt_api_fail(e, 400, "language_required",
                                "model %s translates into several languages (%s): say which in \"target\"", en->name,
                                served);
        }
        if ((source[0] && en->source[0] && !same_code(en->source, source)) ||
            (target[0] && (t = find_target(en, target)) < 0)) {
            nmt_model_set_describe(s, m, served, sizeof served);
            return nmt_api_fail(e, 400, "unsupported_language_pair",
                                "model %s does not translate %.16s into %.16s (it serves %s)", en->name,
                                source[0] ? source : "this source", target[0] ? target : "this target", served);
        }
        route->model = m;
        route->lang_token = token_of(en, t);
        return 0;
    }
    if (!source[0] && !target[0] && s->n > 1) {
        describe_all(s, served, sizeof served);
        return nmt_api_fail(e, 400, "language_required",
                            "several models are served: say \"source\" and \"target\" (or \"model\"); served: %s",
                            served);
    }
    if (!target[0] && s->n > 1) { /* the source alone must name one model */
        int n = 0;
        for (int i = 0; i < s->n; i++)
            n += !s->models[i].source[0] || !source[0] || same_code(s->models[i].source, source);
        if (n != 1) {
            describe_all(s, served, sizeof served);
            return nmt_api_fail(e, 400, "language_required", "say \"target\": served: %s", served);
        }
    }
    int t = 0, m = best_model(s, source, target, &t);
    if (m >= 0) {
        route->model = m;
        route->lang_token = token_of(&s->models[m], t);
        return 0;
    }
    const char *p = s->pivot;
    if (source[0] && target[0] && same_code(source, target)) {
        describe_all(s, served, sizeof served);
        return nmt_api_fail(e, 400, "unsupported_language_pair",
                            "source and target are the same language (%.16s); served: %s", source, served);
    }
    if (p[0] && source[0] && target[0] && !same_code(source, p) && !same_code(target, p)) {
        int t1 = 0, t2 = 0, m1 = best_model(s, source, p, &t1), m2 = best_model(s, p, target, &t2);
        if (m1 >= 0 && m2 >= 0 && m1 != m2) {
            *route = (nmt_route){.model = m1, .lang_token = token_of(&s->models[m1], t1), .pivot = 1,
                                 .then_model = m2, .then_lang_token = token_of(&s->models[m2], t2)};
            return 0;
        }
    }
    describe_all(s, served, sizeof served);
    if (!target[0])
        return nmt_api_fail(e, 400, "language_required", "say \"target\": served: %s", served);
    return nmt_api_fail(e, 400, "unsupported_language_pair", "no model translates %.16s into %.16s (served: %s)",
                        source[0] ? source : "this text", target, served);
}

/* ---- listings ---------------------------------------------------------------- */

static int add_unique(const char **out, int n, int max, const char *code)
{
    if (!code[0] || n >= max)
        return n;
    for (int i = 0; i < n; i++)
        if (strcmp(out[i], code) == 0)
            return n;
    out[n] = code;
    return n + 1;
}

int nmt_model_set_targets(const nmt_model_set *s, const char *source, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const entry *e = &s->models[i];
        if (e->source[0] && !same_code(e->source, source))
            continue;
        for (int t = 0; t < e->n_targets; t++)
            if (!same_code(e->targets[t].code, source))
                n = add_unique(out, n, max, e->targets[t].code);
    }
    if (!s->pivot[0] || same_code(source, s->pivot))
        return n;
    int t = 0;
    if (best_model(s, source, s->pivot, &t) < 0)
        return n;
    for (int i = 0; i < s->n; i++) { /* what the pivot language reaches */
        const entry *e = &s->models[i];
        if (!e->source[0] || !same_code(e->source, s->pivot))
            continue;
        for (int k = 0; k < e->n_targets; k++)
            if (!same_code(e->targets[k].code, source))
                n = add_unique(out, n, max, e->targets[k].code);
    }
    return n;
}

int nmt_model_set_sources(const nmt_model_set *s, const char *target, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const char *src = s->models[i].source;
        if (!src[0])
            continue;
        if (target && target[0]) {
            nmt_route r;
            nmt_api_error e;
            if (nmt_model_set_route(s, NULL, src, target, &r, &e))
                continue;
        }
        n = add_unique(out, n, max, src);
    }
    return n;
}

int nmt_model_set_languages(const nmt_model_set *s, const char **out, int max)
{
    int n = nmt_model_set_sources(s, NULL, out, max);
    for (int i = 0; i < s->n; i++)
        for (int t = 0; t < s->models[i].n_targets; t++)
            n = add_unique(out, n, max, s->models[i].targets[t].code);
    return n;
}
