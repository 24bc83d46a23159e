/* check_safetensors.c: the safetensors reader on valid files and on every
 * kind of damage: truncation, impossible header lengths, bad JSON, offsets
 * out of bounds, byte counts that disagree with dtype and shape, numbers
 * that are not integers (huge, fractional, infinite), shapes whose element
 * count or byte size overflows, ranges that overlap, leave gaps or stop short
 * of the end, NUL bytes in names; and the in-memory entry point. */
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

/* Each message must also carry the words that say what was expected and
 * what was found. */
static void expect_error2(const char *needle, const char *needle2)
{
    expect_error(needle);
    nmt_safetensors st;
    nmt_err err = {0, ""};
    ck_assert_int_ne(nmt_st_open(&st, path, &err), NMT_OK);
    ck_assert_msg(strstr(err.msg, needle2) != NULL, "message '%s' lacks '%s'", err.msg, needle2);
}

START_TEST(test_offsets_not_integers)
{
    /* the UBSan finding: a float -> integer conversion of a huge double */
    static const char *const bad[] = {"[1e300,1e300]", "[0,1e20]",     "[0,18446744073709551616]",
                                      "[0,1e999]",     "[-1e999,0]",   "[0.5,8]",
                                      "[0,8.000001]",  "[-1,8]",       "[0,9007199254740994]",
                                      "[\"0\",8]",     "[0,null]",     "[0,[8]]"};
    float data[2] = {1, 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char header[256];
        snprintf(header, sizeof header, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":%s}}", bad[i]);
        write_raw(header, data, sizeof data);
        expect_error2("tensor 'a'", "data_offsets must be two integers in [0, 2^53]");
    }
    /* integral doubles are integers: 8.0 and 8e0 are 8 */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0.0,8e0]}}", data, sizeof data);
    nmt_safetensors st;
    nmt_err err;
    ck_assert_int_eq(nmt_st_open(&st, path, &err), NMT_OK);
    ck_assert_int_eq(nmt_st_find(&st, "a")->nbytes, 8);
    nmt_st_close(&st);
}
END_TEST

START_TEST(test_shape_not_integers)
{
    static const char *const bad[] = {"[1e300]", "[2.5]", "[1e999]", "[9007199254740994]", "[true]", "[2,-0.5]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char header[256];
        snprintf(header, sizeof header, "{\"a\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[0,0]}}", bad[i]);
        write_raw(header, "", 0);
        expect_error2("tensor 'a'", "is not a non-negative integer");
    }
}
END_TEST

START_TEST(test_shape_overflow)
{
    /* [2^32, 2^32] has 2^64 elements, which wrapped to 0 and matched empty data */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", "", 0);
    expect_error2("tensor 'a': shape [4294967296, 4294967296]", "2^64 elements or more");
    write_raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[65536,65536,65536,65536,0],\"data_offsets\":[0,0]}}", "", 0);
    expect_error("2^64 elements or more");
    /* 2^62 elements fit, their 2^64 bytes do not */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,0]}}", "", 0);
    expect_error2("tensor 'a': shape [2147483648, 2147483648] of F32", "2^64 bytes or more");
    /* large but representable: the byte count decides */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,0]}}", "", 0);
    expect_error2("0 bytes in data_offsets", "need 4398046511104");
    /* a zero dimension makes an empty tensor, whatever the others */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,9007199254740992],\"data_offsets\":[0,0]}}", "", 0);
    nmt_safetensors st;
    nmt_err err;
    ck_assert_int_eq(nmt_st_open(&st, path, &err), NMT_OK);
    ck_assert_int_eq(nmt_st_find(&st, "a")->numel, 0);
    nmt_st_close(&st);
}
END_TEST

START_TEST(test_ranges_overlap)
{
    float data[4] = {1, 2, 3, 4};
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              data, 12);
    expect_error2("tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]", "expected begin 8, got 4");
    /* two names for the same bytes */
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
              data, 8);
    expect_error2("overlap tensor", "expected begin 8, got 0");
    /* one inside another, listed first */
    write_raw("{\"in\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
              "\"out\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
              data, 16);
    expect_error2("tensor 'in': data_offsets [4, 8] overlap tensor 'out' [0, 16]", "expected begin 16, got 4");
}
END_TEST

START_TEST(test_ranges_gap_and_tail)
{
    float data[5] = {1, 2, 3, 4, 5};
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
              data, 20);
    expect_error2("tensor 'b': data_offsets [12, 20] leave bytes [8, 12)", "expected begin 8, got 12");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data, 12);
    expect_error2("leave bytes [0, 4)", "expected begin 0, got 4");
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 12);
    expect_error2("the tensors end at byte 8 of the data (tensor 'a')", "expected end 12, got 8");
    write_raw("{\"__metadata__\":{}}", data, 4);
    expect_error2("the tensors end at byte 0 of the data", "4 bytes belong to no tensor");
}
END_TEST

START_TEST(test_ranges_valid_edges)
{
    /* empty tensors anywhere, listed in any order; an empty file body */
    float data[2] = {1, 2};
    write_raw("{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
              "\"e\":{\"dtype\":\"BF16\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
              "\"y\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[0,0]}}   ",
              data, sizeof data);
    nmt_safetensors st;
    nmt_err err;
    ck_assert_msg(nmt_st_open(&st, path, &err) == NMT_OK, "%s", err.msg);
    ck_assert_int_eq(st.n_tensors, 5);
    ck_assert_int_eq(nmt_st_find(&st, "a")->numel, 1);
    nmt_st_close(&st);
    write_raw("{}", "", 0);
    ck_assert_msg(nmt_st_open(&st, path, &err) == NMT_OK, "%s", err.msg);
    ck_assert_int_eq(st.n_tensors, 0);
    nmt_st_close(&st);
}
END_TEST

START_TEST(test_header_strict)
{
    float data[1] = {1};
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", data, sizeof data);
    expect_error("follows the object");
    write_raw(" {\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, sizeof data);
    expect_error("not a JSON object");
    write_raw("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, sizeof data);
    expect_error("NUL");
    write_raw("{\"__metadata__\":[],\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data,
              sizeof data);
    expect_error("\"__metadata__\" is not a JSON object");
    /* an escaped backslash before u0000 is not a NUL */
    write_raw("{\"a\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, sizeof data);
    nmt_safetensors st;
    nmt_err err;
    ck_assert_msg(nmt_st_open(&st, path, &err) == NMT_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(nmt_st_find(&st, "a\\u0000"));
    nmt_st_close(&st);
}
END_TEST

START_TEST(test_open_buffer)
{
    static const char header[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char image[8 + sizeof header - 1 + 8] = {sizeof header - 1};
    float data[2] = {5, 6};
    memcpy(image + 8, header, sizeof header - 1);
    memcpy(image + 8 + sizeof header - 1, data, sizeof data);
    nmt_safetensors st;
    nmt_err err;
    ck_assert_msg(nmt_st_open_buffer(&st, image, sizeof image, "mem", &err) == NMT_OK, "%s", err.msg);
    const nmt_st_tensor *a = nmt_st_find(&st, "a");
    ck_assert_ptr_eq(a->data, image + 8 + sizeof header - 1);
    float got;
    ck_assert_int_ne(nmt_st_pread(&st, a->data, &got, 4), 0); /* no file behind it */
    nmt_st_close(&st);
    /* the same checks: one byte of data short */
    ck_assert_int_eq(nmt_st_open_buffer(&st, image, sizeof image - 1, "mem", &err), NMT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "mem: tensor 'a': data_offsets [0, 8] beyond the end of the data (7 bytes; file "
                              "truncated?)");
    ck_assert_int_eq(nmt_st_open_buffer(&st, image, 5, "mem", &err), NMT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "mem: file is 5 bytes, too short"));
    nmt_st_close(&st);
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
    tcase_add_test(tc, test_offsets_not_integers);
    tcase_add_test(tc, test_shape_not_integers);
    tcase_add_test(tc, test_shape_overflow);
    tcase_add_test(tc, test_ranges_overlap);
    tcase_add_test(tc, test_ranges_gap_and_tail);
    tcase_add_test(tc, test_ranges_valid_edges);
    tcase_add_test(tc, test_header_strict);
    tcase_add_test(tc, test_open_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(safetensors_suite());
}
