/* Shared by the unit tests that parse a configuration (test_config.c,
 * test_config_perf.c, and the engine and budget tests): a text parsed as
 * "test.yaml", for a configuration or for its error. Include after
 * cmocka.h. */
#ifndef DW_TEST_CONFIG_FIXTURE_H
#define DW_TEST_CONFIG_FIXTURE_H

#include "driftwatch/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The configuration text gives (relative paths against basedir); fails
 * the test with the error if it is refused. */
static inline dw_config *dwt_parse_ok(const char *text, const char *basedir)
{
    char err[512] = "";
    dw_config *cfg = NULL;
    int rc = dw_config_parse("test.yaml", text, strlen(text), basedir, &cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("unexpected error: %s", err);
    assert_non_null(cfg);
    return cfg;
}

/* dwt_parse_ok() (no basedir) of the text printf() makes of fmt, at
 * most 4 KiB. */
__attribute__((format(printf, 1, 2))) static inline dw_config *dwt_parse_fmt(const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof text);
    return dwt_parse_ok(text, NULL);
}

/* text is refused with code (0: any negative code) and exactly msg, and
 * no configuration is left. */
static inline void dwt_parse_error(const char *text, int code, const char *msg)
{
    char err[512] = "";
    dw_config *cfg = (dw_config *)1;
    int rc = dw_config_parse("test.yaml", text, strlen(text), NULL, &cfg, err, sizeof err);
    if (code)
        assert_int_equal(rc, code);
    else
        assert_true(rc < 0);
    assert_null(cfg);
    assert_string_equal(err, msg);
}

#endif
