/* check_model.c: loading Marian directories: the committed random models in
 * F32/F16/BF16 with different conventions, and every way a model directory can
 * be wrong, each refused with a message naming the file and the problem. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

static char *dir;
static char st_path[4096];

static void setup(void)
{
    dir = tu_tmpdir();
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

static void expect_load_error(nmt_code code, const char *needle)
{
    nmt_model *m = NULL;
    nmt_err err = {0, ""};
    nmt_code rc = nmt_model_load(&m, dir, &err);
    ck_assert_msg(rc == code, "expected code %d, got %d (%s)", code, rc, err.msg);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

START_TEST(test_load_tiny_models)
{
    static const struct { const char *name; int d, vocab, eos, pad; nmt_activation act; const char *dtype; } cases[] = {
        {"tiny-swish", 32, 300, 0, 299, NMT_ACT_SWISH, "F32"},
        {"tiny-bf16", 32, 300, 0, 299, NMT_ACT_GELU, "BF16"},
        {"tiny-relu-eos", 48, 400, -1, 399, NMT_ACT_RELU, "F16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nmt_model *m;
        nmt_err err;
        ck_assert_msg(nmt_model_load(&m, tu_test_model(cases[i].name), &err) == NMT_OK, "%s", err.msg);
        ck_assert_int_eq(m->hp.d_model, cases[i].d);
        ck_assert_int_eq(m->hp.vocab_size, cases[i].vocab);
        ck_assert_int_eq(m->hp.pad_id, cases[i].pad);
        ck_assert_int_eq(m->hp.dec_start_id, cases[i].pad);
        if (cases[i].eos >= 0)
            ck_assert_int_eq(m->hp.eos_id, cases[i].eos);
        else
            ck_assert_int_gt(m->hp.eos_id, 1); /* eos in the middle of the vocabulary */
        ck_assert_int_eq(m->hp.act, cases[i].act);
        ck_assert_str_eq(m->file_dtype, cases[i].dtype);
        ck_assert_str_eq(m->name, cases[i].name);
        ck_assert_double_eq_tol(m->hp.embed_scale, sqrt(cases[i].d), 1e-5);
        ck_assert_float_eq(m->positions[1 * m->hp.d_model + 0], sinf(1.0f));
        nmt_model_free(m);
    }
}
END_TEST

START_TEST(test_f16_conversion_matches_file)
{
    /* tiny-relu-eos stores F16: the converted embedding must equal the halves */
    nmt_model *m;
    nmt_err err;
    ck_assert(nmt_model_load(&m, tu_test_model("tiny-relu-eos"), &err) == NMT_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", tu_test_model("tiny-relu-eos"));
    tu_st st;
    tu_st_read(&st, path);
    tu_tensor *t = tu_st_get(&st, "model.shared.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->dtype, "F16");
    /* 1.0 in F16 is 0x3c00; check a few values by re-encoding the float,
     * read as the engine reads embeddings (the converted table itself may
     * be gone once the packed output weights double as it) */
    int d = m->hp.d_model;
    float *row = malloc(sizeof(float) * (size_t)d);
    for (int i = 0; i < 50; i++) {
        uint16_t h;
        memcpy(&h, t->data + 2 * i, 2);
        int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
        double v = exp ? ldexp(1.0 + mant / 1024.0, exp - 15) : ldexp(mant / 1024.0, -14);
        double want = sign ? -v : v;
        if (i % d == 0)
            nmt_model_embedding_row(m, i / d, row);
        ck_assert_float_eq(row[i % d], (float)want);
    }
    free(row);
    tu_st_free(&st);
    nmt_model_free(m);
}
END_TEST

START_TEST(test_missing_directory_files)
{
    nmt_model *m;
    nmt_err err;
    ck_assert_int_eq(nmt_model_load(&m, "/nonexistent-model-dir", &err), NMT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "config.json"));
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    expect_load_error(NMT_ERR_IO, "model.safetensors: missing");
    tu_write_file(dir, "pytorch_model.bin", "x", 1);
    expect_load_error(NMT_ERR_IO, "convert_pytorch_bin.py");
}
END_TEST

START_TEST(test_config_errors)
{
    tu_write_file(dir, "config.json", "{\"d_model\": 32,", 15);
    expect_load_error(NMT_ERR_FORMAT, "config.json: invalid JSON");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"d_model\"", "\"d_modelx\"");
    expect_load_error(NMT_ERR_FORMAT, "\"d_model\" is missing");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"encoder_attention_heads\": 4", "\"encoder_attention_heads\": 5");
    expect_load_error(NMT_ERR_FORMAT, "not divisible");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"swish\"", "\"tanh\"");
    expect_load_error(NMT_ERR_UNSUPPORTED, "activation_function \"tanh\"");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"share_encoder_decoder_embeddings\": true",
                       "\"share_encoder_decoder_embeddings\": false");
    expect_load_error(NMT_ERR_UNSUPPORTED, "separate source and target vocabularies");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"eos_token_id\": 0", "\"eos_token_id\": 300");
    expect_load_error(NMT_ERR_FORMAT, "eos_token_id 300 is outside the vocabulary");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"d_model\": 32", "\"d_model\": \"32\"");
    expect_load_error(NMT_ERR_FORMAT, "\"d_model\" must be an integer");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"normalize_before\": false", "\"normalize_before\": true");
    expect_load_error(NMT_ERR_UNSUPPORTED, "post-norm");
}
END_TEST

/* The buffer entry point (the fuzz target's) reads the same hyper-parameters
 * as the directory loader, and names the files in its messages. */
START_TEST(test_hparams_parse_buffer)
{
    static const char *const models[] = {"tiny-swish", "tiny-relu-eos", "tiny-bf16", NULL};
    for (int i = 0; i < 4; i++) {
        const char *mdir = models[i] ? tu_test_model(models[i]) : tu_demo_model();
        nmt_hparams want, got;
        nmt_err err;
        ck_assert(nmt_hparams_load(&want, mdir, &err) == NMT_OK);
        size_t clen, glen;
        char *config = tu_read_file(mdir, "config.json", &clen);
        char *gen = tu_read_file(mdir, "generation_config.json", &glen);
        ck_assert_msg(nmt_hparams_parse(&got, config, clen, gen, glen, &err) == NMT_OK, "%s", err.msg);
        ck_assert_int_eq(memcmp(&want, &got, sizeof want), 0);
        ck_assert_int_eq(nmt_hparams_parse(&got, config, clen, NULL, 0, &err), NMT_OK);
        ck_assert_int_eq(nmt_hparams_parse(&got, config, clen - 2, NULL, 0, &err), NMT_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "config.json: invalid JSON near byte"));
        ck_assert_int_eq(nmt_hparams_parse(&got, config, clen, "[1]", 3, &err), NMT_ERR_FORMAT);
        ck_assert_str_eq(err.msg, "generation_config.json: not a JSON object");
        ck_assert_int_eq(nmt_hparams_parse(&got, config, clen, "{}x", 3, &err), NMT_ERR_FORMAT);
        ck_assert_str_eq(err.msg, "generation_config.json: invalid JSON: text after the value at byte 2");
        free(config);
        free(gen);
    }
    /* a NUL in a key would make "d_model\u0000x" read as "d_model"; text after the value */
    nmt_hparams hp;
    nmt_err err;
    const char nul[] = "{\"d_model\\u0000x\": 32}";
    ck_assert_int_eq(nmt_hparams_parse(&hp, nul, sizeof nul - 1, NULL, 0, &err), NMT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "config.json: invalid JSON: a NUL (a 0 byte or \\u0000) at byte 9");
    ck_assert_int_eq(nmt_hparams_parse(&hp, "{} {}", 5, NULL, 0, &err), NMT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "config.json: invalid JSON: text after the value at byte 3");
}
END_TEST

/* The config says 32 wide; the file's tensors must agree. */
START_TEST(test_wrong_shape)
{
    tu_replace_in_file(dir, "config.json", "\"encoder_ffn_dim\": 64", "\"encoder_ffn_dim\": 65");
    expect_load_error(NMT_ERR_FORMAT, "'model.encoder.layers.0.fc1.weight' has shape [64, 32], expected [65, 32]");
}
END_TEST

START_TEST(test_missing_tensor)
{
    tu_st st;
    tu_st_read(&st, st_path);
    tu_st_remove(&st, "model.decoder.layers.1.encoder_attn_layer_norm.bias");
    tu_st_write(&st, st_path);
    tu_st_free(&st);
    expect_load_error(NMT_ERR_FORMAT, "missing tensor 'model.decoder.layers.1.encoder_attn_layer_norm.bias'");
}
END_TEST

START_TEST(test_missing_embeddings)
{
    tu_st st;
    tu_st_read(&st, st_path);
    tu_st_remove(&st, "model.shared.weight");
    while (tu_st_get(&st, "model.encoder.embed_tokens.weight"))
        tu_st_remove(&st, "model.encoder.embed_tokens.weight");
    while (tu_st_get(&st, "model.decoder.embed_tokens.weight"))
        tu_st_remove(&st, "model.decoder.embed_tokens.weight");
    tu_st_write(&st, st_path);
    tu_st_free(&st);
    expect_load_error(NMT_ERR_FORMAT, "missing tensor 'model.shared.weight'");
}
END_TEST

START_TEST(test_extra_tensor)
{
    tu_st st;
    tu_st_read(&st, st_path);
    float zeros[32] = {0};
    int64_t shape[1] = {32};
    tu_st_add(&st, "model.encoder.layers.2.final_layer_norm.bias", "F32", 1, shape, zeros, sizeof zeros);
    tu_st_write(&st, st_path);
    tu_st_free(&st);
    expect_load_error(NMT_ERR_FORMAT, "unexpected tensor 'model.encoder.layers.2.final_layer_norm.bias'");
}
END_TEST

START_TEST(test_wrong_dtype)
{
    tu_st st;
    tu_st_read(&st, st_path);
    tu_tensor *t = tu_st_get(&st, "model.encoder.layers.0.fc1.bias");
    snprintf(t->dtype, sizeof t->dtype, "I32");
    tu_st_write(&st, st_path);
    tu_st_free(&st);
    expect_load_error(NMT_ERR_FORMAT, "'model.encoder.layers.0.fc1.bias' has dtype I32, expected F32, F16 or BF16");
}
END_TEST

START_TEST(test_corrupt_safetensors)
{
    size_t len;
    char *data = tu_read_file(dir, "model.safetensors", &len);
    tu_write_file(dir, "model.safetensors", data, len / 2); /* truncated */
    expect_load_error(NMT_ERR_FORMAT, "model.safetensors");
    data[3] = 0x7f; /* absurd header length */
    tu_write_file(dir, "model.safetensors", data, len);
    expect_load_error(NMT_ERR_FORMAT, "header length");
    free(data);
}
END_TEST

START_TEST(test_optional_tensors)
{
    /* final_logits_bias absent -> zeros; lm_head present and tied -> ignored;
     * sinusoids stored -> checked and accepted */
    nmt_model *m;
    nmt_err err;
    tu_st st;
    tu_st_read(&st, st_path);
    ck_assert_ptr_null(tu_st_get(&st, "lm_head.weight"));
    tu_tensor *shared = tu_st_get(&st, "model.shared.weight");
    tu_st_add(&st, "lm_head.weight", shared->dtype, shared->ndim, shared->shape, shared->data, shared->nbytes);
    tu_st_remove(&st, "final_logits_bias");
    float table[64 * 32];
    for (int p = 0; p < 64; p++)
        for (int i = 0; i < 16; i++) {
            double angle = p / pow(10000.0, 2.0 * i / 32);
            table[p * 32 + i] = (float)sin(angle);
            table[p * 32 + 16 + i] = (float)cos(angle);
        }
    int64_t pshape[2] = {64, 32};
    tu_st_add(&st, "model.decoder.embed_positions.weight", "F32", 2, pshape, table, sizeof table);
    tu_st_write(&st, st_path);
    ck_assert_msg(nmt_model_load(&m, dir, &err) == NMT_OK, "%s", err.msg);
    for (int i = 0; i < 300; i++)
        ck_assert_float_eq(m->output.bias[i], 0.0f);
    nmt_model_free(m);
    /* interleaved (non-Marian) positions are refused */
    tu_tensor *pos = tu_st_get(&st, "model.decoder.embed_positions.weight");
    float *p = (float *)pos->data;
    for (int q = 0; q < 64; q++)
        for (int i = 0; i < 16; i++) {
            double angle = q / pow(10000.0, 2.0 * i / 32);
            p[q * 32 + 2 * i] = (float)sin(angle);
            p[q * 32 + 2 * i + 1] = (float)cos(angle);
        }
    tu_st_write(&st, st_path);
    tu_st_free(&st);
    expect_load_error(NMT_ERR_FORMAT, "not Marian's sinusoidal table");
}
END_TEST

START_TEST(test_untied_lm_head)
{
    tu_st st;
    tu_st_read(&st, st_path);
    tu_tensor *shared = tu_st_get(&st, "model.shared.weight");
    tu_tensor *lm = tu_st_add(&st, "lm_head.weight", shared->dtype, shared->ndim, shared->shape, shared->data,
                              shared->nbytes);
    ((float *)lm->data)[0] = 42.0f;
    tu_st_write(&st, st_path);
    tu_st_free(&st);
    tu_replace_in_file(dir, "config.json", "{", "{\"tie_word_embeddings\": false,");
    nmt_model *m;
    nmt_err err;
    ck_assert_msg(nmt_model_load(&m, dir, &err) == NMT_OK, "%s", err.msg);
    ck_assert_float_eq(m->output.w[0], 42.0f);
    ck_assert_float_ne(m->embed[0], 42.0f);
    nmt_model_free(m);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_load_tiny_models);
    tcase_add_test(tc, test_f16_conversion_matches_file);
    tcase_add_test(tc, test_missing_directory_files);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_hparams_parse_buffer);
    tcase_add_test(tc, test_wrong_shape);
    tcase_add_test(tc, test_missing_tensor);
    tcase_add_test(tc, test_missing_embeddings);
    tcase_add_test(tc, test_extra_tensor);
    tcase_add_test(tc, test_wrong_dtype);
    tcase_add_test(tc, test_corrupt_safetensors);
    tcase_add_test(tc, test_optional_tensors);
    tcase_add_test(tc, test_untied_lm_head);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(model_suite());
}
