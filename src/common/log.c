/* log.c: levelled logging to stderr.  One fprintf per line under the stdio
 * lock, so lines from different threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

nmt_log_level nmt_log_threshold = NMT_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void nmt_log_set_level(nmt_log_level level) { nmt_log_threshold = level; }

int nmt_log_parse_level(const char *name, nmt_log_level *out)
{
    for (int i = 0; i <= NMT_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (nmt_log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *nmt_log_level_name(nmt_log_level level)
{
    return (int)level >= 0 && level <= NMT_LOG_OFF ? level_names[level] : "off";
}

void nmt_log_write(nmt_log_level level, const char *subsystem, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    flockfile(stderr);
    fprintf(stderr, "%s [%s] %s\n", level_names[level], subsystem, line);
    funlockfile(stderr);
}
