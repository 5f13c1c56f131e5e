/* The standard Prometheus process metrics (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds, ...), read from Linux's
 * /proc the way the official client libraries do, so dashboards and alert
 * rules written for any exporter work for driftwatch too. */
#ifndef DRIFTWATCH_PROCESS_H
#define DRIFTWATCH_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct dw_process_stats {
    double cpu_seconds;     /* user + system time */
    uint64_t rss_bytes;     /* resident set size */
    uint64_t virtual_bytes; /* virtual memory size */
    uint64_t open_fds;      /* entries of /proc/self/fd */
    uint64_t max_fds;       /* RLIMIT_NOFILE soft limit */
    double start_time;      /* Unix seconds */
} dw_process_stats;

/* Fills *out for the calling process. Returns 0, or a negative dw_err when
 * /proc cannot be read (not Linux, or /proc not mounted): then the caller
 * leaves the metrics out. Thread-safe; a few small reads, no allocation
 * beyond a directory handle. */
int dw_process_stats_read(dw_process_stats *out);

#endif
