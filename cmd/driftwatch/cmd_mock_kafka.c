/* driftwatch mock-kafka: a local Kafka-protocol broker for tests and trials
 * (see docs/mock-kafka.md). */
#include "commands.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/mock_kafka.h"

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* SIGUSR1/SIGUSR2: a broker outage on request (tests of what survives one). */
static volatile sig_atomic_t outage_wanted = -1; /* -1 nothing, 1 down, 0 up */

static void on_outage_signal(int sig)
{
    outage_wanted = sig == SIGUSR1;
}

/* Bound on --topic options (each is a separate mock topic). */
#define MAX_TOPICS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: driftwatch mock-kafka [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
            "                             [--bootstrap-file FILE] [--log-level L] "
            "[--log-format F]\n"
            "\n"
            "A local Kafka-protocol broker (librdkafka's mock cluster) for tests and trials.\n"
            "Prints the bootstrap address (127.0.0.1:PORT,...) as one line on stdout and runs\n"
            "until SIGTERM or SIGINT. SIGUSR1 takes every broker down (an outage: connections\n"
            "are refused, data is kept), SIGUSR2 brings them back.\n"
            "\n"
            "  --brokers N              number of brokers, 1..%d (default 1)\n"
            "  --topic NAME[:P]         create topic NAME with P partitions (default 1);\n"
            "                           repeatable. Topics a producer asks for are also\n"
            "                           auto-created (4 partitions).\n"
            "  --bootstrap-file FILE    also write the bootstrap address to FILE (atomically)\n"
            "  --log-level L            debug|info|warn|error|off (default info)\n"
            "  --log-format F           json|text (default json)\n"
            "\n"
            "NOT for production: data is kept in memory only, and each partition keeps only\n"
            "the most recent ~5 MB (and at most 100000 record batches); older data is\n"
            "dropped silently.\n",
            DW_MOCK_KAFKA_MAX_BROKERS);
}

/* Writes line to path via a temporary file and rename(2), so a reader
 * polling for the file never sees it half-written. */
static int write_atomically(const char *path, const char *line)
{
    size_t n = strlen(path) + 32;
    char *tmp = dw_malloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok)
        ok = fprintf(f, "%s\n", line) > 0;
    if (f)
        ok = (fclose(f) == 0) && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    int saved = errno;
    if (!ok)
        unlink(tmp);
    free(tmp);
    errno = saved;
    return ok ? 0 : DW_ERR_IO;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return DW_ERR_INVALID;
    *out = (int)v;
    return 0;
}

int cmd_mock_kafka(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int brokers = 1;
    const char *bootstrap_file = NULL;
    char *names[MAX_TOPICS];
    int parts[MAX_TOPICS];
    size_t ntopics = 0;
    int status = 2;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, DW_MOCK_KAFKA_MAX_BROKERS, &brokers)) {
                fprintf(stderr, "driftwatch mock-kafka: --brokers: expected 1..%d, got '%s'\n",
                        DW_MOCK_KAFKA_MAX_BROKERS, optarg);
                goto out;
            }
            break;
        case 't': {
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "driftwatch mock-kafka: at most %d --topic options\n", MAX_TOPICS);
                goto out;
            }
            const char *colon = strrchr(optarg, ':');
            int p = 1;
            if (colon && parse_int(colon + 1, 1, DW_MOCK_KAFKA_MAX_PARTITIONS, &p)) {
                fprintf(stderr, "driftwatch mock-kafka: --topic %s: partitions must be 1..%d\n",
                        optarg, DW_MOCK_KAFKA_MAX_PARTITIONS);
                goto out;
            }
            names[ntopics] =
                colon ? dw_strndup(optarg, (size_t)(colon - optarg)) : dw_strdup(optarg);
            parts[ntopics++] = p;
            break;
        }
        case 'f': bootstrap_file = optarg; break;
        case 'l': {
            dw_log_level lv;
            if (dw_log_level_parse(optarg, &lv)) {
                fprintf(stderr, "driftwatch mock-kafka: --log-level: unknown level '%s'\n", optarg);
                goto out;
            }
            dw_log_set_level(lv);
            break;
        }
        case 'F': {
            dw_log_format fmt;
            if (dw_log_format_parse(optarg, &fmt)) {
                fprintf(stderr, "driftwatch mock-kafka: --log-format: expected json or text\n");
                goto out;
            }
            dw_log_set_format(fmt);
            break;
        }
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "driftwatch mock-kafka: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }

    char err[512];
    dw_mock_kafka *mk = NULL;
    if (dw_mock_kafka_new(brokers, (const char *const *)names, parts, ntopics, &mk, err,
                          sizeof err)) {
        fprintf(stderr, "driftwatch %s\n", err);
        goto out;
    }
    const char *bs = dw_mock_kafka_bootstraps(mk);
    /* The file first: whoever reads the stdout line may rely on it. */
    if (bootstrap_file && write_atomically(bootstrap_file, bs)) {
        fprintf(stderr, "driftwatch mock-kafka: %s: cannot write bootstrap file: %s\n",
                bootstrap_file, strerror(errno));
        dw_mock_kafka_free(mk);
        status = 1;
        goto out;
    }
    printf("%s\n", bs);
    fflush(stdout);
    dw_log(DW_LOG_WARN, "mock_kafka",
           "this broker keeps data in memory only and drops all but the most recent ~5 MB "
           "per partition: for tests and trials, never production");

    /* The broker runs on librdkafka's threads; this one only waits for the
     * stop flag set by main.c's signal handler. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_outage_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    const struct timespec tick = {0, 50 * 1000 * 1000};
    while (!dw_stop_requested) {
        nanosleep(&tick, NULL);
        if (outage_wanted >= 0) {
            int down = outage_wanted;
            outage_wanted = -1;
            if (dw_mock_kafka_set_down(mk, down) < 0)
                dw_log(DW_LOG_ERROR, "mock_kafka", "could not take the brokers %s",
                       down ? "down" : "up");
        }
    }

    dw_log(DW_LOG_INFO, "mock_kafka", "stopping");
    dw_mock_kafka_free(mk);
    status = 0;
out:
    for (size_t i = 0; i < ntopics; i++)
        free(names[i]);
    return status;
}
