/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <check.h>
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *path = malloc(strlen(base) + 32);
    sprintf(path, "%s/nmtd-test-XXXXXX", base);
    ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp: %s", strerror(errno));
    return path;
}

void tu_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            tu_rmtree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void tu_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert(fwrite(data, 1, len, f) == len);
    ck_assert(fclose(f) == 0);
}

char *tu_read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

void tu_copy_dir(const char *src, const char *dst)
{
    mkdir(dst, 0700);
    DIR *d = opendir(src);
    ck_assert_msg(d != NULL, "cannot open %s", src);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", src, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        size_t len;
        char *data = tu_read_file(src, e->d_name, &len);
        tu_write_file(dst, e->d_name, data, len);
        free(data);
    }
    closedir(d);
}

void tu_replace_in_file(const char *dir, const char *name, const char *from, const char *to)
{
    size_t len;
    char *text = tu_read_file(dir, name, &len);
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' not found in %s/%s", from, dir, name);
    size_t before = (size_t)(at - text), flen = strlen(from), tlen = strlen(to);
    char *out = malloc(len - flen + tlen + 1);
    memcpy(out, text, before);
    memcpy(out + before, to, tlen);
    memcpy(out + before + tlen, at + flen, len - before - flen);
    tu_write_file(dir, name, out, len - flen + tlen);
    free(out);
    free(text);
}

const char *tu_test_model(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/models/%s", NMT_TEST_DATA, name);
    return path;
}

const char *tu_demo_model(void) { return NMT_MODELS_DIR "/en-de-demo"; }

void tu_st_read(tu_st *st, const char *path)
{
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    unsigned char len8[8];
    ck_assert(fread(len8, 1, 8, f) == 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | len8[i];
    char *header = malloc(hlen + 1);
    ck_assert(fread(header, 1, hlen, f) == hlen);
    header[hlen] = '\0';
    long data_start = 8 + (long)hlen;
    cJSON *root = cJSON_Parse(header);
    ck_assert(root != NULL);
    for (cJSON *it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__"))
            continue;
        cJSON *shape = cJSON_GetObjectItem(it, "shape"), *offs = cJSON_GetObjectItem(it, "data_offsets");
        int64_t dims[8];
        int ndim = cJSON_GetArraySize(shape);
        for (int i = 0; i < ndim; i++)
            dims[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
        size_t b = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble, e = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        unsigned char *data = malloc(e - b + 1);
        fseek(f, data_start + (long)b, SEEK_SET);
        ck_assert(fread(data, 1, e - b, f) == e - b);
        tu_st_add(st, it->string, cJSON_GetObjectItem(it, "dtype")->valuestring, ndim, dims, data, e - b);
        free(data);
    }
    cJSON_Delete(root);
    free(header);
    fclose(f);
}

tu_tensor *tu_st_get(tu_st *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name))
            return &st->t[i];
    return NULL;
}

void tu_st_remove(tu_st *st, const char *name)
{
    tu_tensor *t = tu_st_get(st, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    free(t->data);
    int i = (int)(t - st->t);
    memmove(&st->t[i], &st->t[i + 1], (size_t)(st->n - i - 1) * sizeof *t);
    st->n--;
}

tu_tensor *tu_st_add(tu_st *st, const char *name, const char *dtype, int ndim, const int64_t *shape,
                     const void *data, size_t nbytes)
{
    /* built aside first: the arguments may point into st itself */
    tu_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.dtype, sizeof t.dtype, "%s", dtype);
    t.ndim = ndim;
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    t.data = malloc(nbytes + 1);
    memcpy(t.data, data, nbytes);
    t.nbytes = nbytes;
    st->t = realloc(st->t, (size_t)(st->n + 1) * sizeof *st->t);
    st->t[st->n] = t;
    return &st->t[st->n++];
}

void tu_st_write(const tu_st *st, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < st->n; i++) {
        const tu_tensor *t = &st->t[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(e, "dtype", t->dtype);
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *header = cJSON_PrintUnformatted(root);
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, hlen, f);
    for (size_t i = hlen; i < padded; i++)
        fputc(' ', f);
    for (int i = 0; i < st->n; i++)
        fwrite(st->t[i].data, 1, st->t[i].nbytes, f);
    ck_assert(fclose(f) == 0);
    free(header);
    cJSON_Delete(root);
}

void tu_st_free(tu_st *st)
{
    for (int i = 0; i < st->n; i++)
        free(st->t[i].data);
    free(st->t);
    memset(st, 0, sizeof *st);
}

static int parse_ids(char *s, int **out)
{
    int n = 0, cap = 16;
    int *ids = malloc((size_t)cap * sizeof *ids);
    for (char *tok = strtok(s, " "); tok; tok = strtok(NULL, " ")) {
        if (n == cap)
            ids = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[n++] = atoi(tok);
    }
    *out = ids;
    return n;
}

int tu_golden_read(const char *path, tu_golden **out)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read golden file %s", path);
    int n = 0, cap = 64;
    tu_golden *g = malloc((size_t)cap * sizeof *g);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (line[0] == '#')
            continue;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *fields[4];
        char *p = line;
        for (int i = 0; i < 4; i++) {
            fields[i] = p;
            char *tab = i < 3 ? strchr(p, '\t') : NULL;
            ck_assert_msg(i == 3 || tab != NULL, "%s: malformed line %d", path, n + 1);
            if (tab) {
                *tab = '\0';
                p = tab + 1;
            }
        }
        if (n == cap)
            g = realloc(g, (size_t)(cap *= 2) * sizeof *g);
        g[n].input = strdup(fields[0]);
        g[n].n_src = parse_ids(fields[1], &g[n].src);
        g[n].n_out = parse_ids(fields[2], &g[n].out);
        g[n].translation = strdup(fields[3]);
        n++;
    }
    free(line);
    fclose(f);
    *out = g;
    return n;
}

void tu_golden_free(tu_golden *g, int n)
{
    for (int i = 0; i < n; i++) {
        free(g[i].input);
        free(g[i].src);
        free(g[i].out);
        free(g[i].translation);
    }
    free(g);
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

float tu_frand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

void tu_fill(float *x, size_t n, unsigned *state)
{
    for (size_t i = 0; i < n; i++)
        x[i] = tu_frand(state);
}
