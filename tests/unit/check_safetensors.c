/* check_safetensors.c: the safetensors reader on valid files and on every
 * kind of damage: truncation, impossible header lengths, bad JSON, offsets
 * out of bounds, byte counts that disagree with dtype and shape. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "testutil.h"

static char *dir;
static char path[4096];

static void setup(void)
{
    dir = tu_tmpdir();
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* A file of a raw header + data. */
static void write_raw(const char *header, const void *data, size_t data_len)
{
    size_t hlen = strlen(header);
    unsigned char *buf = malloc(8 + hlen + data_len);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    memcpy(buf + 8 + hlen, data, data_len);
    tu_write_file(dir, "t.safetensors", buf, 8 + hlen + data_len);
    free(buf);
}

static void expect_error(const char *needle)
{
    nmt_safetensors st;
    nmt_err err = {0, ""};
    ck_assert_int_ne(nmt_st_open(&st, path, &err), NMT_OK);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message '%s' does not name the file", err.msg);
    nmt_st_close(&st); /* safe after a failed open */
}

START_TEST(test_valid_file)
{
    float data[6] = {1, 2, 3, 4, 5, 6};
    write_raw("{\"__metadata__\":{\"format\":\"pt\"},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]},"
              "\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
              data, sizeof data);
    nmt_safetensors st;
    nmt_err err;
    ck_assert_int_eq(nmt_st_open(&st, path, &err), NMT_OK);
    ck_assert_int_eq(st.n_tensors, 2);
    const nmt_st_tensor *b = nmt_st_find(&st, "b");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->dtype, NMT_DT_F32);
    ck_assert_int_eq(b->ndim, 2);
    ck_assert_int_eq(b->shape[1], 2);
    ck_assert_int_eq(b->numel, 4);
    float first;
    memcpy(&first, b->data, 4);
    ck_assert_float_eq(first, 3.0f);
    ck_assert_int_eq(nmt_st_find(&st, "a")->dtype, NMT_DT_F16);
    ck_assert_ptr_null(nmt_st_find(&st, "c"));
    ck_assert_ptr_null(nmt_st_find(&st, "__metadata__"));
    nmt_st_close(&st);
}
END_TEST

START_TEST(test_missing_file)
{
    nmt_safetensors st;
    nmt_err err;
    ck_assert_int_eq(nmt_st_open(&st, "/nonexistent/model.safetensors", &err), NMT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/model.safetensors"));
}
END_TEST

START_TEST(test_too_short)
{
    tu_write_file(dir, "t.safetensors", "abc", 3);
    expect_error("too short");
}
END_TEST

START_TEST(test_header_length_beyond_file)
{
    unsigned char buf[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    tu_write_file(dir, "t.safetensors", buf, sizeof buf);
    expect_error("header length");
}
END_TEST

START_TEST(test_header_not_json)
{
    write_raw("{\"a\": {\"dtype\": \"F32\",", "", 0);
    expect_error("not valid JSON");
}
END_TEST

START_TEST(test_header_not_object)
{
    write_raw("[1, 2, 3]", "", 0);
    expect_error("not a JSON object");
}
END_TEST

START_TEST(test_offsets_out_of_bounds)
{
    float data[2] = {1, 2};
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, sizeof data);
    expect_error("beyond the end of the data");
}
END_TEST

START_TEST(test_truncated_data)
{
    float data[4] = {1, 2, 3, 4};
    /* a valid header whose data was cut short */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data, 10);
    expect_error("truncated");
}
END_TEST

START_TEST(test_bytes_disagree_with_shape)
{
    float data[4] = {1, 2, 3, 4};
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", data, sizeof data);
    expect_error("need 12");
}
END_TEST

START_TEST(test_unknown_dtype)
{
    float data[4] = {1, 2, 3, 4};
    write_raw("{\"a\":{\"dtype\":\"F8_E9\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, sizeof data);
    expect_error("unknown dtype 'F8_E9'");
}
END_TEST

START_TEST(test_bad_entry)
{
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", "", 0);
    expect_error("shape entry 0");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "xxxx", 4);
    expect_error("data_offsets");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "xxxx", 4);
    expect_error("begin <= end");
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid_file);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_too_short);
    tcase_add_test(tc, test_header_length_beyond_file);
    tcase_add_test(tc, test_header_not_json);
    tcase_add_test(tc, test_header_not_object);
    tcase_add_test(tc, test_offsets_out_of_bounds);
    tcase_add_test(tc, test_truncated_data);
    tcase_add_test(tc, test_bytes_disagree_with_shape);
    tcase_add_test(tc, test_unknown_dtype);
    tcase_add_test(tc, test_bad_entry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(safetensors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
