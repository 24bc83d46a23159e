/* translator.h: texts in, texts out.  An nmt_translator is the loaded engine
 * (model + tokenizer): immutable but for its weights coming and going
 * (nmt_translator_load_weights), shared by every worker thread.  An
 * nmt_translator_state is one worker's mutable state (search state, id buffers):
 * owned by one thread at a time.  The translator owns no threads.
 *
 *   nmt_translator *tr;  nmt_translator_load(&tr, "models/en-de-demo", &err);
 *   nmt_translator_state *state;  nmt_translator_state_new(&state, tr, 32, 4096, &err);
 *   nmt_translation out[2];
 *   nmt_translate(state, texts, lens, 2, NULL, out, NULL, &err);  ... free(out[i].text)
 */
#ifndef NMT_TRANSLATOR_H
#define NMT_TRANSLATOR_H

#include <stddef.h>

#include "err.h"
#include "model.h"
#include "search.h"
#include "segmenter.h"
#include "tokenizer.h"

/* The loaded engine: model, tokenizer, sentence rules.  Opaque: callers
 * use the accessors below. */
typedef struct nmt_translator nmt_translator;

/* What the server shows of a loaded model (GET /v1/model, logs, metrics);
 * the strings point into the translator. */
typedef struct nmt_translator_info {
    const char *name;           /* the directory's last component */
    const char *path;           /* the directory */
    const char *activation;     /* swish, relu, gelu ... */
    const char *weights_dtype;  /* F32, F16, BF16 as stored */
    const char *sentence_rules; /* the segmenter's language, "root" for ICU's root rules */
    const char *source_lang;    /* tokenizer_config.json's source_lang / target_lang ("" if absent) */
    const char *target_lang;
    int d_model, encoder_layers, decoder_layers, attention_heads, ffn_dim, vocab_size;
    int max_positions;          /* max_position_embeddings: source and target length limit */
    int max_length;             /* the model's default generation limit */
    size_t weight_bytes;        /* of the weights as computed (fp32, or int8 / bfloat16 for the linear layers) */
    const char *compute_type;   /* "float32", "int8", "bfloat16" */
    const char *kernel;         /* what computes the products on this CPU: "avx512-packed", "avx2-packed", "openblas",
                                   "int8-amx", "int8-avx512_vnni", "int8-avx2", "int8-generic", "bf16-amx",
                                   "bf16-avx512_bf16", "bf16-avx2", "bf16-generic" */
    int weights_loaded;         /* 0 while a model opened without its weights waits for its first use */
} nmt_translator_info;

typedef struct nmt_translator_state nmt_translator_state;

typedef struct nmt_translate_opts {
    int max_length; /* > 0: at most this many generated tokens (eos included), capped by max_position_embeddings;
                       0: the default min(max_length of the model, max_position_embeddings, 2 * source + 10) */
    int min_length; /* end-of-sequence is suppressed until this many tokens; 0 or 1 = off */
    int return_ids; /* fill nmt_translation.ids too */
} nmt_translate_opts;

typedef struct nmt_translation {
    char *text;    /* malloc'd translation; NULL when code != NMT_OK */
    nmt_code code; /* NMT_OK, or e.g. NMT_ERR_TOO_LONG for this sentence alone */
    int n_src;     /* source ids, </s> included */
    int n_out;     /* generated ids, eos included */
    int *ids;      /* malloc'd generated ids (n_out) when opts->return_ids, else NULL */
} nmt_translation;

/* Loads model + tokenizer from a Hugging Face Marian directory and checks
 * that they agree.  Errors name the file and the problem.  The sentence
 * rules follow tokenizer_config.json's "source_lang" (ICU's root rules
 * when it is absent). */
nmt_code nmt_translator_load(nmt_translator **out, const char *dir, nmt_err *err);
typedef struct nmt_translator_opts {
    int load_weights;         /* 0: everything but the weights (see nmt_translator_open) */
    nmt_compute_type compute; /* float32 (exact), int8 or bfloat16 */
} nmt_translator_opts;

/* The same as opts say.  Without load_weights: everything but the weights
 * (hyper-parameters, tokenizer, languages), and model.safetensors checked
 * by name, dtype and shape without being read; nmt_translator_load_weights
 * loads them later.  Until then only the accessors, encode and decode work. */
nmt_code nmt_translator_open(nmt_translator **out, const char *dir, const nmt_translator_opts *opts, nmt_err *err);
/* Loads (or frees) the weights of an opened translator.  Not thread-safe:
 * no state of tr may be in use while they change, and a state made before
 * a load must be made again (its scratch is sized for the loaded weights).
 * Loading loaded weights is a no-op.  The batcher does this for the daemon. */
int nmt_translator_weights_loaded(const nmt_translator *tr);
nmt_code nmt_translator_load_weights(nmt_translator *tr, nmt_err *err);
void nmt_translator_unload_weights(nmt_translator *tr);
/* Sentence rules for another source language (ISO 639 code; "" = root).
 * Not thread-safe: call before translating. */
nmt_code nmt_translator_set_language(nmt_translator *tr, const char *lang, nmt_err *err);

/* Accessors (thread-safe: the translator is immutable once loaded). */
void nmt_translator_describe(const nmt_translator *tr, nmt_translator_info *out);
const char *nmt_translator_name(const nmt_translator *tr);
int nmt_translator_max_positions(const nmt_translator *tr);
int nmt_translator_eos_id(const nmt_translator *tr);
/* Target-language tokens: a multilingual model's vocabulary has pieces like
 * ">>fra<<" that choose the output language when they start the source.
 * Returns how many it has (0 for a one-target model) and, with names, their
 * names without the brackets ("fra", "pt_br"), in vocabulary order. */
int nmt_translator_lang_tokens(const nmt_translator *tr, const char *const **names);
/* The vocabulary id of >>name<<, or -1.  Ids are > 0. */
int nmt_translator_lang_token_id(const nmt_translator *tr, const char *name);
/* The engine's own parts, for engine code and its tests. */
const nmt_model *nmt_translator_model(const nmt_translator *tr);
const nmt_tokenizer *nmt_translator_tokenizer(const nmt_translator *tr);
const nmt_segmenter *nmt_translator_segmenter(const nmt_translator *tr);
void nmt_translator_free(nmt_translator *tr);

/* A worker context for batches of at most max_batch sentences and
 * max_tokens source tokens (larger calls are split). */
nmt_code nmt_translator_state_new(nmt_translator_state **out, const nmt_translator *tr, int max_batch, int max_tokens,
                                nmt_err *err);
void nmt_translator_state_free(nmt_translator_state *state);

/* The generation limit for a source of n_src ids under opts (NULL = defaults). */
int nmt_translator_limit(const nmt_translator *tr, int n_src, const nmt_translate_opts *opts);

/* Translates n texts (texts[i], lens[i] bytes) into results[i], in order.
 * A sentence that cannot be translated (too long for the model) gets its own
 * code and leaves the others unaffected; the call itself fails only for
 * errors that concern everything (out of memory).  stats (may be NULL)
 * accumulates decode steps and generated tokens.  Not thread-safe on one state. */
nmt_code nmt_translate(nmt_translator_state *state, const char *const *texts, const size_t *lens, int n,
                       const nmt_translate_opts *opts, nmt_translation *results, nmt_search_stats *stats,
                       nmt_err *err);

/* The same from ids: src[i] (src_len[i] ids, </s> included, each at most
 * max_position_embeddings) into out[i] (room for its limit), out_len[i].
 * limits[i] (may be NULL) overrides the generation limit of sentence i;
 * otherwise nmt_translator_limit(src_len[i], opts) applies.  Used by the
 * batcher, whose batches mix requests, and by tests. */
nmt_code nmt_translate_ids(nmt_translator_state *state, const int *const *src, const int *src_len, const int *limits,
                           int n, const nmt_translate_opts *opts, int *const *out, int *out_len,
                           nmt_search_stats *stats, nmt_err *err);

/* Text -> source ids (</s> included); see nmt_tokenizer_encode. Thread-safe. */
nmt_code nmt_translator_encode(const nmt_translator *tr, const char *text, size_t len, int *ids, int cap, int *n_ids,
                               nmt_err *err);

/* Generated ids -> text (*out malloc'd); see nmt_tokenizer_decode. Thread-safe. */
nmt_code nmt_translator_decode(const nmt_translator *tr, const int *ids, int n, char **out, nmt_err *err);

/* Releases the texts and ids inside results[0..n). */
void nmt_translations_clear(nmt_translation *results, int n);

#endif
