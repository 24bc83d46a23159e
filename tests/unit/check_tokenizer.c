/* check_tokenizer.c: MarianTokenizer-compatible encoding and decoding: ids
 * equal the PyTorch reference's on every golden input, special cases
 * (empty text, characters the vocabulary lacks, language tokens, length
 * caps), and vocab.json files that disagree with config.json. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"
#include "tokenizer.h"

typedef struct loaded {
    nmt_hparams hp;
    nmt_tokenizer *tok;
} loaded;

static void load(loaded *l, const char *dir)
{
    nmt_err err;
    ck_assert_msg(nmt_hparams_load(&l->hp, dir, &err) == NMT_OK, "%s", err.msg);
    ck_assert_msg(nmt_tokenizer_load(&l->tok, dir, &l->hp, &err) == NMT_OK, "%s", err.msg);
}

static int encode(const loaded *l, const char *text, int *ids, int cap)
{
    int n = 0;
    nmt_err err;
    ck_assert_msg(nmt_tokenizer_encode(l->tok, text, strlen(text), ids, cap, &n, &err) == NMT_OK, "%s", err.msg);
    return n;
}

START_TEST(test_empty_text_is_eos)
{
    loaded l;
    load(&l, tu_test_model("tiny-relu-eos"));
    int ids[8];
    ck_assert_int_eq(encode(&l, "", ids, 8), 1);
    ck_assert_int_eq(ids[0], l.hp.eos_id);
    ck_assert_int_eq(ids[0], 211);
    ck_assert_int_eq(encode(&l, "   ", ids, 8), 1);
    nmt_tokenizer_free(l.tok);
}
END_TEST

START_TEST(test_unknown_characters_map_to_unk)
{
    loaded l;
    load(&l, tu_test_model("tiny-swish"));
    int ids[64], n = encode(&l, "\xe2\x98\x83 \xe4\xb8\xad", ids, 64); /* snowman, CJK */
    int unk = nmt_tokenizer_unk_id(l.tok), seen = 0;
    ck_assert_int_eq(unk, 1);
    for (int i = 0; i < n - 1; i++)
        seen += ids[i] == unk;
    ck_assert_int_gt(seen, 0);
    ck_assert_int_eq(ids[n - 1], l.hp.eos_id);
    nmt_tokenizer_free(l.tok);
}
END_TEST

START_TEST(test_language_token_kept_whole)
{
    loaded l;
    load(&l, tu_test_model("tiny-relu-eos"));
    int fra = nmt_tokenizer_piece_id(l.tok, ">>fra<<", 7);
    ck_assert_int_ge(fra, 0);
    int ids[64], n = encode(&l, ">>fra<< the dog", ids, 64);
    ck_assert_int_eq(ids[0], fra);
    int rest[64], m = encode(&l, "the dog", rest, 64);
    ck_assert_int_eq(n, m + 1);
    for (int i = 0; i < m; i++)
        ck_assert_int_eq(ids[i + 1], rest[i]);
    /* not leading, or not in the vocabulary: ordinary text */
    n = encode(&l, "the dog >>fra<<", ids, 64);
    for (int i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], fra);
    n = encode(&l, ">>xyz<< the dog", ids, 64);
    ck_assert_int_gt(n, m + 1);
    nmt_tokenizer_free(l.tok);
}
END_TEST

START_TEST(test_too_long_reports_full_count)
{
    loaded l;
    load(&l, tu_test_model("tiny-swish"));
    int ids[4], n = 0;
    nmt_err err;
    const char *text = "the dog sees the cat and the cat sees the dog";
    ck_assert_int_eq(nmt_tokenizer_encode(l.tok, text, strlen(text), ids, 4, &n, &err), NMT_ERR_TOO_LONG);
    int all[64];
    ck_assert_int_eq(n, encode(&l, text, all, 64));
    ck_assert_int_gt(n, 4);
    nmt_tokenizer_free(l.tok);
}
END_TEST

START_TEST(test_decode_drops_special_tokens)
{
    loaded l;
    load(&l, tu_test_model("tiny-relu-eos"));
    /* two word-initial pieces that the target model knows (the joint vocab
     * also holds source-only pieces, which decode literally) */
    int a = -1, b = -1;
    nmt_err err;
    for (int id = 0; id < l.hp.vocab_size && b < 0; id++) {
        const char *p = nmt_tokenizer_id_piece(l.tok, id);
        if (!p || strncmp(p, "\xe2\x96\x81", 3) != 0 || strlen(p) < 5)
            continue;
        char *text;
        ck_assert(nmt_tokenizer_decode(l.tok, &id, 1, &text, &err) == NMT_OK);
        if (strcmp(text, p + 3) == 0)
            *(a < 0 ? &a : &b) = id;
        free(text);
    }
    ck_assert_int_ge(b, 0);
    int plain[2] = {a, b}, noisy[5] = {a, l.hp.pad_id, nmt_tokenizer_unk_id(l.tok), b, l.hp.eos_id};
    char *x, *y;
    ck_assert(nmt_tokenizer_decode(l.tok, plain, 2, &x, &err) == NMT_OK);
    ck_assert(nmt_tokenizer_decode(l.tok, noisy, 5, &y, &err) == NMT_OK);
    ck_assert_str_eq(x, y);
    char want[256];
    snprintf(want, sizeof want, "%s %s", nmt_tokenizer_id_piece(l.tok, a) + 3, nmt_tokenizer_id_piece(l.tok, b) + 3);
    ck_assert_str_eq(x, want);
    free(x);
    free(y);
    char *empty;
    ck_assert(nmt_tokenizer_decode(l.tok, noisy + 4, 1, &empty, &err) == NMT_OK);
    ck_assert_str_eq(empty, "");
    free(empty);
    nmt_tokenizer_free(l.tok);
}
END_TEST

/* Source ids equal the reference's for every input of every golden file. */
static void check_golden_src_ids(const char *model_dir, const char *golden)
{
    loaded l;
    load(&l, model_dir);
    tu_golden *g;
    int n = tu_golden_read(golden, &g);
    ck_assert_int_gt(n, 0);
    int *ids = malloc(sizeof(int) * (size_t)(l.hp.max_pos + 1));
    for (int i = 0; i < n; i++) {
        int m = encode(&l, g[i].input, ids, l.hp.max_pos + 1);
        ck_assert_msg(m == g[i].n_src, "'%s': %d ids, reference %d", g[i].input, m, g[i].n_src);
        for (int j = 0; j < m; j++)
            ck_assert_msg(ids[j] == g[i].src[j], "'%s': id %d is %d, reference %d", g[i].input, j, ids[j],
                          g[i].src[j]);
    }
    free(ids);
    tu_golden_free(g, n);
    nmt_tokenizer_free(l.tok);
}

/* Hugging Face's convention: no U+2581 survives decoding, even from a
 * piece that only source.spm knows (target.spm passes it through
 * verbatim), and the ends are stripped. */
START_TEST(test_decode_source_only_pieces_like_hf)
{
    loaded l;
    load(&l, tu_test_model("tiny-swish"));
    nmt_err err;
    int source_only = 0;
    for (int id = 0; id < l.hp.vocab_size; id++) {
        const char *p = nmt_tokenizer_id_piece(l.tok, id);
        if (!p || strncmp(p, "\xe2\x96\x81", 3) != 0 || strlen(p) < 4)
            continue;
        int ids[3] = {id, id, l.hp.eos_id};
        char *text;
        ck_assert(nmt_tokenizer_decode(l.tok, ids, 3, &text, &err) == NMT_OK);
        ck_assert_msg(strstr(text, "\xe2\x96\x81") == NULL, "piece %s decodes to '%s'", p, text);
        ck_assert_msg(text[0] != ' ' && (!*text || text[strlen(text) - 1] != ' '), "'%s' not stripped", text);
        /* "▁ab▁ab" -> "ab ab", whether target.spm knows the piece or not */
        char want[256];
        snprintf(want, sizeof want, "%s %s", p + 3, p + 3);
        if (strcmp(text, want) == 0)
            source_only++;
        free(text);
    }
    ck_assert_int_gt(source_only, 10);
    nmt_tokenizer_free(l.tok);
}
END_TEST

START_TEST(test_hf_cleanup)
{
    static const char *const cases[][2] = {
        {"\xe2\x96\x81Smith\xe2\x96\x81said", "Smith said"},
        {"  a  b \t\n", "a  b"},
        {"\xc2\xa0\xe3\x80\x80x\xe2\x80\x89", "x"},       /* NBSP, ideographic and thin spaces */
        {"\xe2\x80\x8bx\xe2\x80\x8b", "\xe2\x80\x8bx\xe2\x80\x8b"}, /* zero-width space is not whitespace */
        {"\xe2\x96\x81", ""},
        {"", ""},
        {"\xe2\x96\x81\xe2\x96\x81" "a\xe2\x96\x81\xe2\x96\x81", "a"},
        {"ä\xe2\x96\x81ö", "ä ö"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i][0]);
        nmt_tokenizer_hf_cleanup(buf);
        ck_assert_str_eq(buf, cases[i][1]);
    }
}
END_TEST

START_TEST(test_golden_source_ids_demo)
{
    check_golden_src_ids(tu_demo_model(), NMT_TEST_DATA "/en-de-demo.golden.tsv");
}
END_TEST

START_TEST(test_golden_source_ids_tiny)
{
    static const char *const models[] = {"tiny-swish", "tiny-relu-eos", "tiny-bf16"};
    for (int i = 0; i < 3; i++) {
        char golden[4096];
        snprintf(golden, sizeof golden, "%s/%s.golden.tsv", NMT_TEST_DATA, models[i]);
        check_golden_src_ids(tu_test_model(models[i]), golden);
    }
}
END_TEST

static void expect_vocab_error(const char *dir, const char *needle)
{
    nmt_hparams hp;
    nmt_tokenizer *tok = NULL;
    nmt_err err;
    ck_assert(nmt_hparams_load(&hp, dir, &err) == NMT_OK);
    ck_assert_int_eq(nmt_tokenizer_load(&tok, dir, &hp, &err), NMT_ERR_FORMAT);
    ck_assert_ptr_null(tok);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(strstr(err.msg, "vocab.json") != NULL, "message '%s' does not name vocab.json", err.msg);
}

START_TEST(test_vocab_disagrees_with_config)
{
    char *dir = tu_tmpdir();
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"vocab_size\": 300", "\"vocab_size\": 310");
    tu_replace_in_file(dir, "config.json", "\"decoder_vocab_size\": 300", "\"decoder_vocab_size\": 310");
    expect_vocab_error(dir, "300 entries, but config.json has vocab_size 310");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "config.json", "\"vocab_size\": 300", "\"vocab_size\": 200");
    tu_replace_in_file(dir, "config.json", "\"decoder_vocab_size\": 300", "\"decoder_vocab_size\": 200");
    tu_replace_in_file(dir, "config.json", "\"pad_token_id\": 299", "\"pad_token_id\": 199");
    tu_replace_in_file(dir, "config.json", "\"decoder_start_token_id\": 299", "\"decoder_start_token_id\": 199");
    expect_vocab_error(dir, "outside the model's vocabulary");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "vocab.json", "\"</s>\"", "\"<eos>\"");
    expect_vocab_error(dir, "is \"<eos>\", expected \"</s>\"");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_replace_in_file(dir, "vocab.json", "\"<unk>\": 1", "\"<unk>\": 0");
    expect_vocab_error(dir, "id 0 is used by both");
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_write_file(dir, "vocab.json", "{\"a\": 1,", 8);
    expect_vocab_error(dir, "invalid JSON");
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The buffer entry point (the fuzz target's) judges a vocab.json as the
 * loader does. */
START_TEST(test_check_vocab_buffer)
{
    static const char *const models[] = {"tiny-swish", "tiny-relu-eos", "tiny-bf16", NULL};
    for (int i = 0; i < 4; i++) {
        const char *dir = models[i] ? tu_test_model(models[i]) : tu_demo_model();
        nmt_hparams hp;
        nmt_err err;
        ck_assert(nmt_hparams_load(&hp, dir, &err) == NMT_OK);
        size_t len;
        char *text = tu_read_file(dir, "vocab.json", &len);
        ck_assert_msg(nmt_tokenizer_check_vocab("vocab.json", text, len, &hp, &err) == NMT_OK, "%s", err.msg);
        /* cut short: invalid JSON, named */
        ck_assert_int_eq(nmt_tokenizer_check_vocab("v.json", text, len / 2, &hp, &err), NMT_ERR_FORMAT);
        ck_assert_str_eq(err.msg, "v.json: invalid JSON");
        free(text);
    }
    nmt_hparams hp = {.vocab_size = 3, .eos_id = 0, .pad_id = 2};
    nmt_err err;
    const char good[] = "{\"</s>\": 0, \"<unk>\": 1, \"<pad>\": 2}";
    ck_assert_int_eq(nmt_tokenizer_check_vocab("v", good, sizeof good - 1, &hp, &err), NMT_OK);
    const char twice[] = "{\"</s>\": 0, \"<unk>\": 1, \"<pad>\": 2, \"<unk>\": 2}";
    ck_assert_int_eq(nmt_tokenizer_check_vocab("v", twice, sizeof twice - 1, &hp, &err), NMT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "v: id 2 is used by both \"<pad>\" and \"<unk>\"");
    /* a NUL would cut "<unk>\u0000x" to "<unk>": refused wherever it is */
    const char nul[] = "{\"</s>\": 0, \"<unk>\\u0000x\": 1, \"<pad>\": 2}";
    ck_assert_int_eq(nmt_tokenizer_check_vocab("v", nul, sizeof nul - 1, &hp, &err), NMT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "v: a NUL (a 0 byte or \\u0000) at byte 18: pieces cannot hold one");
    ck_assert_int_eq(nmt_tokenizer_check_vocab("v", good, sizeof good, &hp, &err), NMT_ERR_FORMAT); /* raw 0 */
    ck_assert_ptr_nonnull(strstr(err.msg, "a NUL"));
    const char after[] = "{\"</s>\": 0, \"<unk>\": 1, \"<pad>\": 2} {}";
    ck_assert_int_eq(nmt_tokenizer_check_vocab("v", after, sizeof after - 1, &hp, &err), NMT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "v: invalid JSON: text after the object at byte 36");
    const char huge[] = "{\"</s>\": 0, \"<unk>\": 1e300, \"<pad>\": 2}";
    ck_assert_int_eq(nmt_tokenizer_check_vocab("v", huge, sizeof huge - 1, &hp, &err), NMT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "outside the model's vocabulary [0, 3)"));
}
END_TEST

START_TEST(test_missing_spm)
{
    char *dir = tu_tmpdir();
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    tu_write_file(dir, "target.spm", "not a model", 11);
    nmt_hparams hp;
    nmt_tokenizer *tok = NULL;
    nmt_err err;
    ck_assert(nmt_hparams_load(&hp, dir, &err) == NMT_OK);
    ck_assert_int_ne(nmt_tokenizer_load(&tok, dir, &hp, &err), NMT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "target.spm"));
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_empty_text_is_eos);
    tcase_add_test(tc, test_unknown_characters_map_to_unk);
    tcase_add_test(tc, test_language_token_kept_whole);
    tcase_add_test(tc, test_too_long_reports_full_count);
    tcase_add_test(tc, test_decode_drops_special_tokens);
    tcase_add_test(tc, test_decode_source_only_pieces_like_hf);
    tcase_add_test(tc, test_hf_cleanup);
    tcase_add_test(tc, test_golden_source_ids_demo);
    tcase_add_test(tc, test_golden_source_ids_tiny);
    tcase_add_test(tc, test_vocab_disagrees_with_config);
    tcase_add_test(tc, test_missing_spm);
    tcase_add_test(tc, test_check_vocab_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(tokenizer_suite());
}
