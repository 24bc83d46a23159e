/* tokenizer.c: MarianTokenizer-compatible tokenization over two SentencePiece
 * models and the joint vocab.json (piece -> id, an open-addressing hash).
 * vocab.json is untrusted: ids are checked as doubles before conversion, and
 * a NUL in a piece or text after the object is refused. */
#include "tokenizer.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spm.h"
#include "utf8.h"
#include "util.h"

#define VOCAB_MAX_BYTES (256u << 20)

struct nmt_tokenizer {
    nmt_spm *src, *tgt;
    char **pieces;     /* [vocab_size] id -> piece (NULL for an unused id) */
    int vocab_size;
    int *slots;        /* hash slots holding ids, -1 = empty */
    size_t n_slots;    /* power of two */
    int eos_id, pad_id, unk_id;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int nmt_tokenizer_piece_id(const nmt_tokenizer *tok, const char *piece, size_t len)
{
    size_t mask = tok->n_slots - 1;
    for (size_t i = hash_bytes(piece, len) & mask;; i = (i + 1) & mask) {
        int id = tok->slots[i];
        if (id < 0)
            return -1;
        const char *p = tok->pieces[id];
        if (strlen(p) == len && memcmp(p, piece, len) == 0)
            return id;
    }
}

const char *nmt_tokenizer_id_piece(const nmt_tokenizer *tok, int id)
{
    return id >= 0 && id < tok->vocab_size ? tok->pieces[id] : NULL;
}

int nmt_tokenizer_unk_id(const nmt_tokenizer *tok) { return tok->unk_id; }

/* Parses vocab.json text (len bytes) into tok's piece table and checks it
 * against hp; path names the file in messages. */
static nmt_code parse_vocab(nmt_tokenizer *tok, const char *path, const char *text, size_t len,
                            const nmt_hparams *hp, nmt_err *err)
{
    nmt_code rc = NMT_OK;
    size_t nul = nmt_json_nul_at(text, len);
    if (nul < len) /* cJSON would cut the piece short there, and map the rest to the wrong id */
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "%s: a NUL (a 0 byte or \\u0000) at byte %zu: pieces cannot hold one", path, nul);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: invalid JSON", path);
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: invalid JSON: text after the object at byte %zu", path,
                             (size_t)(p - text));
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: not a JSON object of piece -> id", path);
        goto out;
    }
    tok->vocab_size = hp->vocab_size;
    tok->pieces = calloc((size_t)hp->vocab_size, sizeof *tok->pieces);
    tok->n_slots = 16;
    while (tok->n_slots < 2 * (size_t)hp->vocab_size)
        tok->n_slots <<= 1;
    tok->slots = malloc(tok->n_slots * sizeof *tok->slots);
    if (!tok->pieces || !tok->slots) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    memset(tok->slots, 0xff, tok->n_slots * sizeof *tok->slots);
    int count = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        double v = it->valuedouble;
        if (!cJSON_IsNumber(it) || v != floor(v) || v < 0 || v >= hp->vocab_size) {
            rc = nmt_err_set(err, NMT_ERR_FORMAT,
                             "%s: piece \"%s\" has id %s, outside the model's vocabulary [0, %d) (config.json "
                             "vocab_size)",
                             path, it->string, cJSON_IsNumber(it) ? "out of range" : "not an integer",
                             hp->vocab_size);
            goto out;
        }
        int id = (int)v;
        if (tok->pieces[id]) {
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: id %d is used by both \"%s\" and \"%s\"", path, id,
                             tok->pieces[id], it->string);
            goto out;
        }
        if (!(tok->pieces[id] = strdup(it->string))) {
            rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
            goto out;
        }
        size_t plen = strlen(it->string), mask = tok->n_slots - 1;
        if (nmt_tokenizer_piece_id(tok, it->string, plen) >= 0) {
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: piece \"%s\" appears twice", path, it->string);
            goto out;
        }
        size_t i = hash_bytes(it->string, plen) & mask;
        while (tok->slots[i] >= 0)
            i = (i + 1) & mask;
        tok->slots[i] = id;
        count++;
    }
    if (count != hp->vocab_size) {
        rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: %d entries, but config.json has vocab_size %d", path, count,
                         hp->vocab_size);
        goto out;
    }
    const struct { const char *piece; int id; const char *key; } specials[] = {
        {"</s>", hp->eos_id, "eos_token_id"}, {"<pad>", hp->pad_id, "pad_token_id"}};
    for (int i = 0; i < 2; i++)
        if (strcmp(tok->pieces[specials[i].id], specials[i].piece) != 0) {
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: id %d (config.json %s) is \"%s\", expected \"%s\"", path,
                             specials[i].id, specials[i].key, tok->pieces[specials[i].id], specials[i].piece);
            goto out;
        }
    tok->unk_id = nmt_tokenizer_piece_id(tok, "<unk>", 5);
    if (tok->unk_id < 0)
        rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: no \"<unk>\" entry", path);
out:
    cJSON_Delete(root);
    return rc;
}

static nmt_code load_vocab(nmt_tokenizer *tok, const char *path, const nmt_hparams *hp, nmt_err *err)
{
    char *text = NULL;
    size_t len = 0;
    nmt_code rc = nmt_read_file(path, VOCAB_MAX_BYTES, &text, &len, err);
    if (rc)
        return rc;
    rc = parse_vocab(tok, path, text, len, hp, err);
    free(text);
    return rc;
}

nmt_code nmt_tokenizer_check_vocab(const char *name, const char *text, size_t len, const nmt_hparams *hp,
                                   nmt_err *err)
{
    nmt_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    tok->eos_id = hp->eos_id;
    tok->pad_id = hp->pad_id;
    nmt_code rc = len > VOCAB_MAX_BYTES
                      ? nmt_err_set(err, NMT_ERR_FORMAT, "%s: %zu bytes, more than the %u this file may have", name,
                                    len, VOCAB_MAX_BYTES)
                      : parse_vocab(tok, name, text, len, hp, err);
    nmt_tokenizer_free(tok);
    return rc;
}

nmt_code nmt_tokenizer_load(nmt_tokenizer **out, const char *dir, const nmt_hparams *hp, nmt_err *err)
{
    *out = NULL;
    nmt_tokenizer *tok = calloc(1, sizeof *tok);
    char *src = nmt_path_join(dir, "source.spm"), *tgt = nmt_path_join(dir, "target.spm"),
         *vocab = nmt_path_join(dir, "vocab.json");
    nmt_code rc = NMT_OK;
    if (!tok || !src || !tgt || !vocab) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    tok->eos_id = hp->eos_id;
    tok->pad_id = hp->pad_id;
    if (!nmt_file_exists(vocab)) {
        char *target_vocab = nmt_path_join(dir, "target_vocab.json");
        int separate = target_vocab && nmt_file_exists(target_vocab);
        free(target_vocab);
        if (separate) {
            rc = nmt_err_set(err, NMT_ERR_UNSUPPORTED,
                             "%s: this model has separate source and target vocabularies (target_vocab.json), "
                             "which nmtd does not support yet",
                             dir);
            goto out;
        }
    }
    if ((rc = load_vocab(tok, vocab, hp, err)) || (rc = nmt_spm_load(&tok->src, src, err)) ||
        (rc = nmt_spm_load(&tok->tgt, tgt, err)))
        goto out;
out:
    free(src);
    free(tgt);
    free(vocab);
    if (rc) {
        nmt_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return NMT_OK;
}

void nmt_tokenizer_free(nmt_tokenizer *tok)
{
    if (!tok)
        return;
    nmt_spm_free(tok->src);
    nmt_spm_free(tok->tgt);
    if (tok->pieces)
        for (int i = 0; i < tok->vocab_size; i++)
            free(tok->pieces[i]);
    free(tok->pieces);
    free(tok->slots);
    free(tok);
}

typedef struct encode_ctx {
    const nmt_tokenizer *tok;
    int *ids;
    int cap;
    int n;
} encode_ctx;

static void push_id(encode_ctx *c, int id)
{
    if (c->n < c->cap)
        c->ids[c->n] = id;
    c->n++;
}

static int on_piece(void *ctx, const char *piece, size_t len)
{
    encode_ctx *c = ctx;
    int id = nmt_tokenizer_piece_id(c->tok, piece, len);
    push_id(c, id >= 0 ? id : c->tok->unk_id);
    return 0;
}

/* Length of a leading ">>xxx<<" token (no whitespace inside), or 0. */
static size_t language_token_len(const char *text, size_t len)
{
    if (len < 5 || text[0] != '>' || text[1] != '>')
        return 0;
    for (size_t i = 2; i + 1 < len; i++) {
        if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')
            return 0;
        if (text[i] == '<' && text[i + 1] == '<')
            return i > 2 ? i + 2 : 0;
    }
    return 0;
}

nmt_code nmt_tokenizer_encode(const nmt_tokenizer *tok, const char *text, size_t len, int *ids, int cap, int *n_ids,
                              nmt_err *err)
{
    encode_ctx c = {.tok = tok, .ids = ids, .cap = cap, .n = 0};
    size_t lang = language_token_len(text, len);
    if (lang) {
        int id = nmt_tokenizer_piece_id(tok, text, lang);
        if (id >= 0) {
            push_id(&c, id);
            text += lang;
            len -= lang;
        }
    }
    int rc = nmt_spm_encode(tok->src, text, len, on_piece, &c, err);
    if (rc)
        return (nmt_code)rc;
    push_id(&c, tok->eos_id);
    *n_ids = c.n;
    if (c.n > cap)
        return nmt_err_set(err, NMT_ERR_TOO_LONG, "%d tokens, more than the %d allowed", c.n, cap);
    return NMT_OK;
}

void nmt_tokenizer_hf_cleanup(char *text)
{
    unsigned char *s = (unsigned char *)text;
    size_t len = 0;
    for (size_t i = 0; s[i];) { /* U+2581 LOWER ONE EIGHTH BLOCK -> ' ' (3 bytes -> 1), one pass */
        if (s[i] == 0xe2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
            s[len++] = ' ';
            i += 3;
        } else {
            s[len++] = s[i++];
        }
    }
    size_t start = nmt_skip_space(text, 0, len);
    len = nmt_trim_space_end(text, start, len);
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
}

nmt_code nmt_tokenizer_decode(const nmt_tokenizer *tok, const int *ids, int n, char **out, nmt_err *err)
{
    const char **pieces = malloc((size_t)(n ? n : 1) * sizeof *pieces);
    if (!pieces)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id == tok->eos_id || id == tok->pad_id || id == tok->unk_id)
            continue;
        const char *p = nmt_tokenizer_id_piece(tok, id);
        if (p)
            pieces[k++] = p;
    }
    nmt_code rc = nmt_spm_decode(tok->tgt, pieces, k, out, err);
    free(pieces);
    if (rc == NMT_OK)
        nmt_tokenizer_hf_cleanup(*out);
    return rc;
}
