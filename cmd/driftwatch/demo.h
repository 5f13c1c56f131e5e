/* `driftwatch demo`: the whole pipeline on an embedded Kafka-protocol broker
 * with synthetic drift, in under a minute, explained to the person watching. */
#ifndef DRIFTWATCH_DEMO_H
#define DRIFTWATCH_DEMO_H

#include <signal.h>
#include <stdio.h>

typedef struct dw_demo_options {
    unsigned long seed;     /* 0: the default seed */
    int records_per_minute; /* event-time traffic; 0: 200 */
    FILE *out;              /* what the person reads; NULL: stdout */
} dw_demo_options;

/* Runs the demo; *stop (may be NULL) ends it early. Returns 0 when the
 * expected alerts fired and resolved, 1 when they did not (a bug), 2 on a
 * set-up error (message in errbuf). */
int dw_demo_run(const dw_demo_options *opts, volatile sig_atomic_t *stop, char *errbuf,
                size_t errlen);

#endif
