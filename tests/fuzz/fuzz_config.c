/* fuzz_config.c: fuzz target for the daemon's config file parser
 * (nmt_config_load_buffer, the body of nmt_config_load_file).  The input is
 * the file.  An error must name the file; a success must survive the round
 * trip the header promises: nmt_config_dump writes a file that loads back
 * to the same configuration. */
#include <string.h>

#include "fuzz.h"
#include "nmt_config.h"

static char *dump(const nmt_config *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    FUZZ_CHECK(f != NULL, "open_memstream");
    nmt_config_dump(c, f);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nmt_config c;
    nmt_err err = {0, ""};
    nmt_config_defaults(&c);
    if (nmt_config_load_buffer(&c, "fuzz.conf", (const char *)data, size, &err) != NMT_OK) {
        FUZZ_CHECK(strncmp(err.msg, "fuzz.conf:", 10) == 0, "message does not name the file: %s", err.msg);
        nmt_config_free(&c);
        return 0;
    }
    size_t len1, len2;
    char *first = dump(&c, &len1);
    nmt_config again;
    nmt_config_defaults(&again);
    nmt_code rc = nmt_config_load_buffer(&again, "dump.conf", first, len1, &err);
    FUZZ_CHECK(rc == NMT_OK, "the dump does not load back: %s\n%s", err.msg, first);
    char *second = dump(&again, &len2);
    FUZZ_CHECK(len1 == len2 && memcmp(first, second, len1) == 0, "the dump changed on reload:\n%s\n---\n%s", first,
               second);
    free(first);
    free(second);
    nmt_config_free(&c);
    nmt_config_free(&again);
    return 0;
}
