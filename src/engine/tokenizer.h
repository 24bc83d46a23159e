/* tokenizer.h: text <-> ids the way Hugging Face's MarianTokenizer does it.
 * Source: an optional leading language token (">>fra<<", kept whole when
 * vocab.json has it) then source.spm pieces, each mapped through vocab.json
 * (unknown -> <unk>), then </s>.  Target, as MarianTokenizer.decode(ids,
 * skip_special_tokens=True): ids -> pieces (eos, pad and unk dropped) ->
 * target.spm decode -> every U+2581 left (by a piece only source.spm
 * knows, which target.spm passes through verbatim) replaced by a space ->
 * leading and trailing whitespace stripped (the characters Python's
 * str.strip() removes).  Ids come from config.json and vocab.json,
 * never from constants.  Immutable after load; thread-safe. */
#ifndef NMT_TOKENIZER_H
#define NMT_TOKENIZER_H

#include <stddef.h>

#include "err.h"
#include "model.h"

typedef struct nmt_tokenizer nmt_tokenizer;

/* Loads dir/source.spm, dir/target.spm, dir/vocab.json and checks the vocab
 * against hp: size, unique ids, </s> at eos_token_id, <pad> at pad_token_id,
 * an <unk> entry. */
nmt_code nmt_tokenizer_load(nmt_tokenizer **out, const char *dir, const nmt_hparams *hp, nmt_err *err);

/* Parses and checks vocab.json content text[0..len) (need not be
 * NUL-terminated) against hp exactly as nmt_tokenizer_load does, then
 * discards the table; name stands for the file in messages.  hp must be
 * valid as nmt_hparams_load returns it (the special ids inside vocab_size).
 * For the fuzz target and tests; thread-safe. */
nmt_code nmt_tokenizer_check_vocab(const char *name, const char *text, size_t len, const nmt_hparams *hp,
                                   nmt_err *err);
void nmt_tokenizer_free(nmt_tokenizer *tok);

/* Encodes text (len bytes) into ids, </s> included.  Writes at most cap ids;
 * *n_ids is the full count, so a result over cap returns NMT_ERR_TOO_LONG
 * with *n_ids telling how long it was. */
nmt_code nmt_tokenizer_encode(const nmt_tokenizer *tok, const char *text, size_t len, int *ids, int cap, int *n_ids,
                              nmt_err *err);

/* Decodes ids into text (*out malloc'd). */
nmt_code nmt_tokenizer_decode(const nmt_tokenizer *tok, const int *ids, int n, char **out, nmt_err *err);

/* The last step of decoding, in place: every U+2581 becomes a space, then
 * leading and trailing Unicode whitespace (Python's str.strip()) goes. */
void nmt_tokenizer_hf_cleanup(char *text);

/* Id of a piece, or -1. */
int nmt_tokenizer_piece_id(const nmt_tokenizer *tok, const char *piece, size_t len);
/* Piece of an id, or NULL. */
const char *nmt_tokenizer_id_piece(const nmt_tokenizer *tok, int id);
int nmt_tokenizer_unk_id(const nmt_tokenizer *tok);

#endif
