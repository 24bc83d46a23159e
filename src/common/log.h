/* log.h: levelled, thread-safe logging to stderr (journald picks it up).
 * The level is checked before any formatting; each line carries a level and
 * a subsystem tag.  Request text belongs at NMT_LOG_DEBUG only. */
#ifndef NMT_LOG_H
#define NMT_LOG_H

typedef enum nmt_log_level {
    NMT_LOG_DEBUG = 0,
    NMT_LOG_INFO,
    NMT_LOG_WARN,
    NMT_LOG_ERROR,
    NMT_LOG_OFF
} nmt_log_level;

extern nmt_log_level nmt_log_threshold;

/* Sets the threshold; thread-safe enough for start-up (set before threads). */
void nmt_log_set_level(nmt_log_level level);
/* Parses "debug|info|warn|error|off" (any case); returns 0 on success, -1
 * otherwise.  The one list of level names: the config file, both
 * programs' flags and the log lines use it. */
int nmt_log_parse_level(const char *name, nmt_log_level *out);
/* "debug" ... "off". */
const char *nmt_log_level_name(nmt_log_level level);
/* Writes one line; use the NMT_LOG macro so disabled levels cost nothing. */
void nmt_log_write(nmt_log_level level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define NMT_LOG(level, subsystem, ...)                          \
    do {                                                        \
        if ((level) >= nmt_log_threshold)                       \
            nmt_log_write((level), (subsystem), __VA_ARGS__);   \
    } while (0)

#define nmt_debug(sub, ...) NMT_LOG(NMT_LOG_DEBUG, sub, __VA_ARGS__)
#define nmt_info(sub, ...)  NMT_LOG(NMT_LOG_INFO, sub, __VA_ARGS__)
#define nmt_warn(sub, ...)  NMT_LOG(NMT_LOG_WARN, sub, __VA_ARGS__)
#define nmt_error(sub, ...) NMT_LOG(NMT_LOG_ERROR, sub, __VA_ARGS__)

#endif
