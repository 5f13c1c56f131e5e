/* consume_driver: dw_consumer in a tiny program, for tests/integration.
 *
 *   consume_driver -b BOOTSTRAP -t TOPIC -g GROUP [-n MAX] [-d DELAY_MS]
 *                  [-c COMMIT_INTERVAL_MS] [-X key=value]...
 *
 * Prints one line per applied record, "topic partition offset payload",
 * flushes stdout, and only then stores the offset (at-least-once: a record
 * is "applied" once its line is out). Exits 0 after MAX records (0 = no
 * limit) or on SIGTERM/SIGINT, after dw_consumer_close() (final commit);
 * exits 1 on a fatal Kafka error, 2 on usage errors. */
#include "driftwatch/consumer.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *group = NULL;
    long max = 0, delay_ms = 0, commit_ms = 1000;
    const char *keys[DW_KAFKA_MAX_PROPS], *vals[DW_KAFKA_MAX_PROPS];
    size_t nprops = 0;
    int opt;
    while ((opt = getopt(argc, argv, "b:t:g:n:d:c:X:")) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'g': group = optarg; break;
        case 'n': max = atol(optarg); break;
        case 'd': delay_ms = atol(optarg); break;
        case 'c': commit_ms = atol(optarg); break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq || nprops == DW_KAFKA_MAX_PROPS) {
                fprintf(stderr, "consume_driver: -X needs key=value (at most %d)\n",
                        DW_KAFKA_MAX_PROPS);
                return 2;
            }
            *eq = '\0';
            keys[nprops] = optarg;
            vals[nprops++] = eq + 1;
            break;
        }
        default: return 2;
        }
    }
    if (!brokers || !topic || !group) {
        fprintf(stderr, "usage: consume_driver -b BOOTSTRAP -t TOPIC -g GROUP [-n MAX] "
                        "[-d DELAY_MS] [-c COMMIT_MS] [-X key=value]...\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    dw_log_set_format(DW_LOG_TEXT);

    const char *topics[] = {topic};
    dw_kafka_settings s = {.brokers = brokers,
                           .topics = topics,
                           .ntopics = 1,
                           .group_id = group,
                           .prop_keys = keys,
                           .prop_values = vals,
                           .nprops = nprops,
                           .commit_interval_ms = commit_ms};
    char err[512];
    dw_consumer *c = NULL;
    if (dw_consumer_new(&s, &c, err, sizeof err)) {
        fprintf(stderr, "consume_driver: %s\n", err);
        return 1;
    }
    int status = 0;
    long n = 0;
    const struct timespec delay = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    while (!stop && (max == 0 || n < max)) {
        dw_kafka_msg m;
        int rc = dw_consumer_poll(c, 100, &m);
        if (rc < 0) {
            fprintf(stderr, "consume_driver: %s\n", dw_consumer_error(c));
            status = 1;
            break;
        }
        if (rc == 0)
            continue;
        printf("%s %d %lld %.*s\n", m.topic, (int)m.partition, (long long)m.offset, (int)m.len,
               (const char *)m.payload);
        fflush(stdout);
        /* Stored only after the line is out: at-least-once. A revoked
         * partition (DW_ERR_STATE) is fine, its new owner re-reads it. */
        int src = dw_consumer_store(c, &m);
        if (src && src != DW_ERR_STATE)
            fprintf(stderr, "consume_driver: store failed: %s\n", dw_strerror(src));
        dw_kafka_msg_release(&m);
        n++;
        if (delay_ms > 0)
            nanosleep(&delay, NULL);
    }
    int crc = dw_consumer_close(c);
    fprintf(stderr, "consume_driver: closed after %ld records (%s)\n", n, dw_strerror(crc));
    dw_consumer_free(c);
    return status ? status : (crc ? 1 : 0);
}
