#include "commands.h"

#include "demo.h"
#include "driftwatch/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_demo(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: driftwatch demo\n\n"
             "Runs the whole pipeline in under a minute: an embedded Kafka-protocol broker,\n"
             "a synthetic producer for an example fraud model, a feature shift and a new\n"
             "category part-way through (in event time), the sidecar's engine, and the\n"
             "alerts firing and resolving. Exit status 0 when the expected alerts happened.\n"
             "Set DW_DEMO_DEBUG=1 to see the sidecar's debug log (pausing of partitions, ...).");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "driftwatch: demo takes no arguments\n");
        return 2;
    }
    /* The demo talks to people: only warnings and errors as log lines. */
    dw_log_set_level(getenv("DW_DEMO_DEBUG") ? DW_LOG_DEBUG : DW_LOG_WARN);
    dw_log_set_format(DW_LOG_TEXT);
    char err[1024];
    int rc = dw_demo_run(NULL, &dw_stop_requested, err, sizeof err);
    if (rc == 2)
        fprintf(stderr, "driftwatch: demo: %s\n", err);
    return rc;
}
