#include "driftwatch/log.h"

#include "driftwatch/error.h"
#include "driftwatch/timestamp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

volatile int dw_log_min_level = DW_LOG_INFO;
static dw_log_format log_format = DW_LOG_JSON;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

void dw_log_set_level(dw_log_level level)
{
    dw_log_min_level = (int)level;
}
void dw_log_set_format(dw_log_format format)
{
    log_format = format;
}

int dw_log_level_parse(const char *s, dw_log_level *out)
{
    for (int i = 0; i <= DW_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (dw_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = DW_LOG_WARN;
        return 0;
    }
    return DW_ERR_INVALID;
}

int dw_log_format_parse(const char *s, dw_log_format *out)
{
    if (strcmp(s, "json") == 0)
        *out = DW_LOG_JSON;
    else if (strcmp(s, "text") == 0)
        *out = DW_LOG_TEXT;
    else
        return DW_ERR_INVALID;
    return 0;
}

uint64_t dw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t dw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dw_wall_ms_coarse(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0)
        return dw_wall_ms();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends s to out as JSON string content (without quotes). */
static void json_escape(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

void dw_log_write(dw_log_level level, const char *module, const char *fmt, ...)
{
    char msg[2048], esc[4096], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    dw_ts_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof ts);

    const char *lv = level_names[level < DW_LOG_OFF ? level : DW_LOG_ERROR];
    pthread_mutex_lock(&log_lock);
    if (log_format == DW_LOG_TEXT) {
        fprintf(stderr, "%s %-5s %s: %s\n", ts, lv, module, msg);
    } else {
        json_escape(esc, sizeof esc, msg);
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"%s\"}\n", ts,
                lv, module, esc);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

int dw_ratelimit_allow(dw_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
    if (rl->last_ms == 0 || now_ms - rl->last_ms >= rl->interval_ms) {
        *suppressed = rl->suppressed;
        rl->suppressed = 0;
        rl->last_ms = now_ms ? now_ms : 1;
        return 1;
    }
    rl->suppressed++;
    return 0;
}
