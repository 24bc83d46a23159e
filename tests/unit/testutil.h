/* testutil.h: helpers for the Check suites: temporary directories, copies of
 * model directories, and a safetensors editor so that tests can damage or
 * alter a real model file in precise ways.  Test code only: aborts the test
 * (ck_abort) on any I/O failure. */
#ifndef NMT_TESTUTIL_H
#define NMT_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Every suite's main: runs s, returns the exit status (0 when all passed). */
int tu_run(Suite *s);

/* A fresh directory under $TMPDIR (malloc'd path); removed by tu_rmtree. */
/* Deterministic test data: uniform floats in [-1, 1) from a small LCG whose
 * state the caller keeps (one per test file, so each file's data is fixed). */
float tu_frand(unsigned *state);
void tu_fill(float *x, size_t n, unsigned *state);

char *tu_tmpdir(void);
void tu_rmtree(const char *dir);
/* Copies every regular file of src into dst (created if needed). */
void tu_copy_dir(const char *src, const char *dst);
void tu_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Whole file as a NUL-terminated string (malloc'd). */
char *tu_read_file(const char *dir, const char *name, size_t *len);
/* Replaces the first occurrence of from with to in dir/name. */
void tu_replace_in_file(const char *dir, const char *name, const char *from, const char *to);

/* Path of a committed test model: "<tests/data/models>/<name>" (static buffer). */
const char *tu_test_model(const char *name);
/* Path of the shipped demo model. */
const char *tu_demo_model(void);

typedef struct tu_tensor {
    char name[256];
    char dtype[16];
    int ndim;
    int64_t shape[8];
    unsigned char *data;
    size_t nbytes;
} tu_tensor;

typedef struct tu_st {
    tu_tensor *t;
    int n;
} tu_st;

void tu_st_read(tu_st *st, const char *path);
tu_tensor *tu_st_get(tu_st *st, const char *name);      /* NULL if absent */
void tu_st_remove(tu_st *st, const char *name);
tu_tensor *tu_st_add(tu_st *st, const char *name, const char *dtype, int ndim, const int64_t *shape,
                     const void *data, size_t nbytes);
/* Writes a valid safetensors file (offsets in list order). */
void tu_st_write(const tu_st *st, const char *path);
void tu_st_free(tu_st *st);

/* Reads a golden fixture (input TAB src_ids TAB out_ids TAB translation). */
typedef struct tu_golden {
    char *input;
    int *src, n_src;
    int *out, n_out;
    char *translation;
} tu_golden;
int tu_golden_read(const char *path, tu_golden **out); /* returns the count */
void tu_golden_free(tu_golden *g, int n);

#endif
