/* fuzz_vocab.c: fuzz target for vocab.json (nmt_tokenizer_check_vocab, the
 * piece table that nmt_tokenizer_load builds).  The input is vocab.json.
 * The checker needs hyper-parameters; so that inputs get past the count
 * check, they are taken from the input where it allows: vocab_size = its
 * number of entries (3..65536, else 300), eos_id = the id of "</s>" and
 * pad_id = the id of "<pad>" when those are distinct integers inside the
 * vocabulary (else 0 and vocab_size - 1), as config.json would say. */
#include <cJSON.h>
#include <string.h>

#include "fuzz.h"
#include "model.h"
#include "tokenizer.h"

/* The integer id of piece in root, or -1. */
static int id_of(const cJSON *root, const char *piece, int vocab_size)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, piece);
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble < vocab_size))
        return -1;
    int id = (int)it->valuedouble;
    return id == it->valuedouble ? id : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    nmt_hparams hp = {.vocab_size = 300};
    cJSON *root = cJSON_ParseWithLength(text, size);
    if (cJSON_IsObject(root)) {
        int n = cJSON_GetArraySize(root);
        if (n >= 3 && n <= 65536)
            hp.vocab_size = n;
    }
    hp.eos_id = 0;
    hp.pad_id = hp.vocab_size - 1;
    int eos = id_of(root, "</s>", hp.vocab_size), pad = id_of(root, "<pad>", hp.vocab_size);
    if (eos >= 0 && pad >= 0 && eos != pad) {
        hp.eos_id = eos;
        hp.pad_id = pad;
    }
    cJSON_Delete(root);
    nmt_err err = {0, ""};
    if (nmt_tokenizer_check_vocab("fuzz/vocab.json", text, size, &hp, &err) != NMT_OK)
        FUZZ_CHECK(strncmp(err.msg, "fuzz/vocab.json: ", 17) == 0 || strcmp(err.msg, "out of memory") == 0,
                   "message does not name the file: %s", err.msg);
    return 0;
}
