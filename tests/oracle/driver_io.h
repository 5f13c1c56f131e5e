/* Input helpers shared by the oracle drivers (stats_driver.c,
 * canary_driver.c, perf_driver.c): whitespace-separated tokens on stdin, exit 2 with a
 * message on malformed input. Define DRIVER_NAME before including. */
#ifndef DW_ORACLE_DRIVER_IO_H
#define DW_ORACLE_DRIVER_IO_H

#include "driftwatch/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound on any count of items in one command (values of a sample, bins). */
#define MAX_ITEMS 100000000UL

static inline void die(const char *what)
{
    fprintf(stderr, DRIVER_NAME ": bad input: %s\n", what);
    exit(2);
}

static inline double read_double(void)
{
    char tok[64];
    if (scanf("%63s", tok) != 1)
        die("missing number");
    char *end;
    double v = strtod(tok, &end);
    if (*end)
        die(tok);
    return v;
}

static inline uint64_t read_u64(void)
{
    char tok[64];
    if (scanf("%63s", tok) != 1)
        die("missing count");
    char *end;
    unsigned long long v = strtoull(tok, &end, 10);
    if (*end || tok[0] == '-')
        die(tok);
    return (uint64_t)v;
}

static inline size_t read_size(void)
{
    uint64_t v = read_u64();
    if (v > MAX_ITEMS)
        die("too many items");
    return (size_t)v;
}

static inline uint64_t *read_counts(size_t k)
{
    uint64_t *c = dw_calloc(k ? k : 1, sizeof *c);
    for (size_t i = 0; i < k; i++)
        c[i] = read_u64();
    return c;
}

/* A count in 0..max (a driver's own bound). */
static inline size_t read_count_max(uint64_t max)
{
    uint64_t v = read_u64();
    if (v > max)
        die("count out of range");
    return (size_t)v;
}

/* One command of a driver: its name on stdin and what runs it. */
typedef struct driver_command {
    const char *name;
    void (*run)(void);
} driver_command;

/* The main loop of a driver: reads command names until EOF and runs each
 * (an unknown one is bad input), flushing its output line after each. */
static inline int run_commands(const driver_command *cmds, size_t n)
{
    char cmd[32];
    while (scanf("%31s", cmd) == 1) {
        size_t i = 0;
        while (i < n && strcmp(cmd, cmds[i].name) != 0)
            i++;
        if (i == n)
            die(cmd);
        cmds[i].run();
        fflush(stdout);
    }
    return 0;
}

#endif
