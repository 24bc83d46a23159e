/* fuzz_hparams.c: fuzz target for the model hyper-parameters parser
 * (nmt_hparams_parse: config.json, then generation_config.json).  The input
 * is config.json; if it holds a 0 byte, what follows the first one is
 * generation_config.json.  A success must hold what the rest of the engine
 * relies on: positive sizes, heads that divide d_model, special ids inside
 * the vocabulary, pad != eos, a positive max_length. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nul = memchr(text, '\0', size);
    size_t config_len = nul ? (size_t)(nul - text) : size;
    const char *gen = nul ? nul + 1 : NULL;
    size_t gen_len = nul ? size - config_len - 1 : 0;
    nmt_hparams hp;
    nmt_err err = {0, ""};
    if (nmt_hparams_parse(&hp, text, config_len, gen, gen_len, &err) != NMT_OK) {
        FUZZ_CHECK(strstr(err.msg, "config.json") != NULL || strstr(err.msg, "JSON file") != NULL,
                   "message names no file: %s", err.msg);
        return 0;
    }
    FUZZ_CHECK(hp.d_model >= 2 && hp.enc_heads >= 1 && hp.dec_heads >= 1, "sizes");
    FUZZ_CHECK(hp.d_model % hp.enc_heads == 0 && hp.d_model % hp.dec_heads == 0, "heads do not divide d_model");
    FUZZ_CHECK(hp.enc_layers >= 1 && hp.dec_layers >= 1 && hp.enc_ffn >= 1 && hp.dec_ffn >= 1, "layers");
    FUZZ_CHECK(hp.vocab_size >= 3 && hp.max_pos >= 2 && hp.max_length >= 1, "vocab, positions, max_length");
    FUZZ_CHECK(hp.pad_id >= 0 && hp.pad_id < hp.vocab_size && hp.eos_id >= 0 && hp.eos_id < hp.vocab_size &&
                   hp.dec_start_id >= 0 && hp.dec_start_id < hp.vocab_size,
               "special id outside the vocabulary");
    FUZZ_CHECK(hp.pad_id != hp.eos_id, "pad == eos");
    FUZZ_CHECK(isfinite(hp.embed_scale) && hp.embed_scale >= 1.0f && hp.ln_eps > 0, "scales");
    FUZZ_CHECK(hp.act_name[0] != '\0', "no activation name");
    return 0;
}
