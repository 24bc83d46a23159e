/* replay.c: a stand-in for libFuzzer's main(), linked into the fuzz targets
 * when they are built without --enable-fuzzer (gcc, the normal make check and
 * the ASan/UBSan build).  Runs LLVMFuzzerTestOneInput once over every
 * regular file of the directories (or files) named on the command line, each
 * directory in name order, and prints how many inputs it ran.  Arguments that
 * start with '-' (libFuzzer options such as -runs=0) are ignored, so one
 * command line serves both kinds of build.
 *
 * Exit status: 0 when every input ran; 1 when an argument cannot be read or
 * no input was found.  A failed check or a sanitizer report aborts the
 * process, after "replay: <file>" names the input on stderr. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Runs the target over one file; -1 when it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown)
                free(buf);
            buf = grown;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return -1;
    }
    /* an exact-size copy, so that ASan sees a read past the input */
    unsigned char *input = malloc(len ? len : 1);
    if (!input) {
        free(buf);
        return -1;
    }
    memcpy(input, buf, len);
    free(buf);
    fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(input, len);
    free(input);
    return 0;
}

static int only_regular(const struct dirent *d) { return d->d_name[0] != '.'; }

int main(int argc, char **argv)
{
    int ran = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            bad |= replay_file(argv[i]) != 0;
            ran += 1;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, only_regular, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
            continue;
        }
        for (int k = 0; k < n; k++) {
            size_t plen = strlen(argv[i]) + strlen(names[k]->d_name) + 2;
            char *path = malloc(plen);
            if (path) {
                snprintf(path, plen, "%s/%s", argv[i], names[k]->d_name);
                if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                    bad |= replay_file(path) != 0;
                    ran++;
                }
            }
            free(path);
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %d inputs%s\n", ran, bad ? ", some unreadable" : "");
    return bad || ran == 0;
}
