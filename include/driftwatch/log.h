/* Structured logging: JSON lines on stderr by default (what Kubernetes log
 * collectors expect), plain text with dw_log_set_format(DW_LOG_TEXT).
 *
 * dw_log() checks the level before evaluating its arguments. Repeated
 * messages can be rate-limited with dw_log_ratelimited(): at most one line
 * per key and interval, and the next line that passes reports how many were
 * suppressed. Thread-safe (one mutex around the write). */
#ifndef DRIFTWATCH_LOG_H
#define DRIFTWATCH_LOG_H

#include <stdint.h>

typedef enum dw_log_level {
    DW_LOG_DEBUG = 0,
    DW_LOG_INFO = 1,
    DW_LOG_WARN = 2,
    DW_LOG_ERROR = 3,
    DW_LOG_OFF = 4,
} dw_log_level;

typedef enum dw_log_format { DW_LOG_JSON = 0, DW_LOG_TEXT = 1 } dw_log_format;

extern volatile int dw_log_min_level;

void dw_log_set_level(dw_log_level level);
void dw_log_set_format(dw_log_format format);
/* Parses "debug|info|warn|error|off"; returns 0 or DW_ERR_INVALID. */
int dw_log_level_parse(const char *s, dw_log_level *out);
/* Parses "json|text"; returns 0 or DW_ERR_INVALID. */
int dw_log_format_parse(const char *s, dw_log_format *out);

/* Writes one log line. Use the dw_log() macro instead. */
void dw_log_write(dw_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define dw_log(level, module, ...)                                                                 \
    do {                                                                                           \
        if ((int)(level) >= dw_log_min_level)                                                      \
            dw_log_write((level), (module), __VA_ARGS__);                                          \
    } while (0)

/* A rate limiter for one kind of repeated message: at most one line per
 * interval_ms; suppressed lines are counted and reported on the next one. */
typedef struct dw_ratelimit {
    uint64_t interval_ms;
    uint64_t last_ms;
    uint64_t suppressed;
} dw_ratelimit;

#define DW_RATELIMIT_INIT(ms)                                                                      \
    {                                                                                              \
        (ms), 0, 0                                                                                 \
    }

/* Returns 1 if a line may be written now (and sets *suppressed to the number
 * of lines dropped since the last one), 0 if this line is to be dropped. */
int dw_ratelimit_allow(dw_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);

#define dw_log_ratelimited(rl, level, module, fmt, ...)                                            \
    do {                                                                                           \
        uint64_t dw_supp_;                                                                         \
        if ((int)(level) >= dw_log_min_level &&                                                    \
            dw_ratelimit_allow((rl), dw_now_ms(), &dw_supp_)) {                                    \
            if (dw_supp_)                                                                          \
                dw_log_write((level), (module), fmt " (%llu similar suppressed)", ##__VA_ARGS__,   \
                             (unsigned long long)dw_supp_);                                        \
            else                                                                                   \
                dw_log_write((level), (module), fmt, ##__VA_ARGS__);                               \
        }                                                                                          \
    } while (0)

/* Monotonic milliseconds. */
uint64_t dw_now_ms(void);
/* Wall-clock milliseconds since the Unix epoch. */
int64_t dw_wall_ms(void);
/* The same, as of the last clock tick (up to a few milliseconds behind):
 * several times cheaper, for a time read per message whose uses (idle
 * timeouts, the future bound) are seconds wide. */
int64_t dw_wall_ms_coarse(void);

#endif
