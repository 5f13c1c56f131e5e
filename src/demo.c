#include "driftwatch/demo.h"

#include "driftwatch/config.h"
#include "driftwatch/consumer.h"
#include "driftwatch/engine.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/mock_kafka.h"
#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"
#include "driftwatch/sidecar.h"
#include "driftwatch/timestamp.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The story, in event time (minutes from the start). */
#define DEMO_T0_MS 1795500000000LL /* 2026-11-23T04:40:00Z: any fixed instant works */
#define DEMO_MINUTES 180
#define DRIFT_FROM 60
#define DRIFT_TO 120
#define TRAINING_ROWS 50000
#define DEMO_TOPIC "model-logs"
#define MAX_EVENTS 256
/* The whole demo must finish well under a minute; this is its hard stop. */
#define DEMO_BUDGET_MS 50000

static const char *countries[] = {"DE", "FR", "US", "GB", "NL", "ES", "IT", "PL"};
static const double country_w[] = {0.25, 0.15, 0.2, 0.1, 0.08, 0.08, 0.08, 0.06};
static const char *devices[] = {"ios", "android", "web"};

/* One log record of the example fraud model. During the drift, amount
 * shifts by one standard deviation on its log scale and a new country, BR,
 * takes 20% of the traffic. */
static int gen_record(gsl_rng *r, int64_t ts, bool drift, unsigned long seq, char *buf, size_t cap)
{
    double amount = gsl_ran_lognormal(r, drift ? 3.5 + 0.8 : 3.5, 0.8);
    int age = 18 + (int)(gsl_rng_uniform(r) * 62);
    double tenure = gsl_ran_exponential(r, 400.0);
    unsigned n_items = 1 + gsl_ran_poisson(r, 2.0);
    const char *country;
    if (drift && gsl_rng_uniform(r) < 0.2) {
        country = "BR";
    } else {
        double u = gsl_rng_uniform(r), acc = 0;
        country = countries[7];
        for (size_t i = 0; i < 8; i++) {
            acc += country_w[i];
            if (u < acc) {
                country = countries[i];
                break;
            }
        }
    }
    const char *device = devices[gsl_rng_uniform_int(r, 3)];
    double score = gsl_ran_beta(r, 1.2, 6.0);
    double latency = 5.0 + gsl_ran_gamma(r, 2.0, 3.0);
    return snprintf(buf, cap,
                    "{\"ts\":%lld,\"model\":\"fraud\",\"model_version\":\"v3\","
                    "\"request_id\":\"r-%lu\",\"features\":{\"amount\":%.2f,\"age\":%d,"
                    "\"tenure_days\":%.1f,\"n_items\":%u,\"country\":\"%s\",\"device\":\"%s\"},"
                    "\"prediction\":{\"score\":%.4f,\"label\":\"%s\"},\"latency_ms\":%.1f}",
                    (long long)ts, seq, amount, age, tenure, n_items, country, device, score,
                    score > 0.5 ? "fraud" : "ok", latency);
}

typedef struct alert_event {
    char column[96];
    bool firing;
    int64_t at_ms;
} alert_event;

typedef struct demo {
    FILE *out;
    unsigned long seed;
    int rpm;
    const char *bootstrap;
    /* producer */
    unsigned long total, produced;
    /* Shared by the producer, watcher and main threads through __atomic
     * loads and stores: producer_done is stored with release after
     * produce_error/produce_err, so a reader that loads it with acquire
     * sees them; produced and stop are single counters/flags. */
    int produce_error;
    char produce_err[640];
    volatile int producer_done;
    /* watcher */
    dw_sidecar *sidecar;
    volatile sig_atomic_t stop;
    volatile sig_atomic_t *user_stop;
    uint64_t start_ms;
    /* what happened */
    alert_event events[MAX_EVENTS];
    size_t nevents;
} demo;

static void fmt_offset(int64_t at_ms, char *buf, size_t len)
{
    long min = (long)((at_ms - DEMO_T0_MS) / 60000);
    snprintf(buf, len, "%s%02ld:%02ld", min < 0 ? "-" : "+", labs(min) / 60, labs(min) % 60);
}

static double num_at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (v && b)
        v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* Prints each alert of a notification document as a line for people. */
static void on_notification(void *ctx, json_t *doc)
{
    demo *d = ctx;
    size_t i;
    json_t *a;
    json_array_foreach (json_object_get(doc, "alerts"), i, a) {
        const char *status = json_string_value(json_object_get(a, "status"));
        const char *column = json_string_value(json_object_get(a, "column"));
        const char *window = json_string_value(json_object_get(a, "window"));
        const char *kind = json_string_value(json_object_get(a, "kind"));
        const char *end = json_string_value(json_object_get(a, "window_end"));
        int64_t at = 0;
        if (end)
            dw_ts_parse(end, strlen(end), &at);
        bool firing = status && !strcmp(status, "firing");
        char when[32];
        fmt_offset(at, when, sizeof when);
        json_t *tests = json_object_get(a, "tests");
        char stats[160] = "";
        if (kind && !strcmp(kind, "quality"))
            snprintf(stats, sizeof stats, "missing %.1f%% (reference %.1f%%), type errors %.1f%%",
                     100 * num_at(a, "quality", "missing_rate"),
                     100 * num_at(a, "quality", "ref_missing_rate"),
                     100 * num_at(a, "quality", "type_error_rate"));
        else if (json_object_get(tests, "ks"))
            snprintf(stats, sizeof stats, "KS D=%.3f p=%.1e  PSI=%.3f",
                     num_at(tests, "ks", "statistic"), num_at(tests, "ks", "p_value"),
                     num_at(tests, "psi", NULL));
        else if (json_object_get(tests, "chi2"))
            snprintf(stats, sizeof stats, "chi2=%.0f (df %d) p=%.1e  PSI=%.3f",
                     num_at(tests, "chi2", "statistic"), (int)num_at(tests, "chi2", "df"),
                     num_at(tests, "chi2", "p_value"), num_at(tests, "psi", NULL));
        fprintf(d->out, "  [%s] %s %-20s %-12s window %-4s n=%-5lld %s", when,
                firing ? "FIRING  " : "RESOLVED", column ? column : "?", kind ? kind : "",
                window ? window : "", (long long)json_integer_value(json_object_get(a, "samples")),
                stats);
        json_t *nc = json_object_get(a, "new_categories");
        if (firing && json_array_size(nc)) {
            fputs("  new categories:", d->out);
            size_t k;
            json_t *c;
            json_array_foreach (nc, k, c)
                fprintf(d->out, " %s", json_string_value(c));
        }
        fputc('\n', d->out);
        if (d->nevents < MAX_EVENTS && column) {
            alert_event *e = &d->events[d->nevents++];
            snprintf(e->column, sizeof e->column, "%s", column);
            e->firing = firing;
            e->at_ms = at;
        }
    }
    fflush(d->out);
    json_decref(doc);
}

static void *producer_main(void *arg)
{
    demo *d = arg;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", d->bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    dw_kafka_conf_logging(conf);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        snprintf(d->produce_err, sizeof d->produce_err, "producer: %s", err);
        d->produce_error = 1;
        __atomic_store_n(&d->producer_done, 1, __ATOMIC_RELEASE);
        return NULL;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, d->seed + 1);
    char buf[1024];
    int64_t step = 60000 / d->rpm;
    for (unsigned long i = 0; i < d->total && !__atomic_load_n(&d->stop, __ATOMIC_RELAXED); i++) {
        int64_t ts = DEMO_T0_MS + (int64_t)i * step;
        long minute = (long)(i * (unsigned long)step / 60000);
        int n = gen_record(r, ts, minute >= DRIFT_FROM && minute < DRIFT_TO, i, buf, sizeof buf);
        char key[32];
        int kl = snprintf(key, sizeof key, "r-%lu", i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(buf, (size_t)n), RD_KAFKA_V_KEY(key, (size_t)kl),
                RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                snprintf(d->produce_err, sizeof d->produce_err, "produce: %s", rd_kafka_err2str(e));
                d->produce_error = 1;
            }
            break;
        }
        if (d->produce_error)
            break;
        __atomic_store_n(&d->produced, i + 1, __ATOMIC_RELAXED);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 10000);
    gsl_rng_free(r);
    rd_kafka_destroy(rk);
    __atomic_store_n(&d->producer_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Stops the sidecar once it has seen every produced record (or on ^C, or
 * at the time budget). */
static void *watcher_main(void *arg)
{
    demo *d = arg;
    for (;;) {
        dw_engine_stats st;
        dw_engine_stats_get(dw_sidecar_engine(d->sidecar), &st);
        bool all =
            __atomic_load_n(&d->producer_done, __ATOMIC_ACQUIRE) &&
            (d->produce_error || st.records >= __atomic_load_n(&d->produced, __ATOMIC_RELAXED));
        bool late = dw_now_ms() - d->start_ms > DEMO_BUDGET_MS;
        if (all || late || (d->user_stop && __atomic_load_n(d->user_stop, __ATOMIC_RELAXED))) {
            if (late)
                fprintf(d->out, "  (time budget reached, stopping)\n");
            __atomic_store_n(&d->stop, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        usleep(50000);
    }
}

static int write_training(const char *path, unsigned long seed, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot create", path);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    char buf[1024];
    for (unsigned long i = 0; i < TRAINING_ROWS; i++) {
        gen_record(r, DEMO_T0_MS - 86400000LL, false, i, buf, sizeof buf);
        fputs(buf, f);
        fputc('\n', f);
    }
    gsl_rng_free(r);
    return fclose(f) == 0 ? 0 : dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: write error", path);
}

/* Did the story's alerts happen: amount and country fire during the drift
 * and resolve after it? */
static bool check_story(const demo *d, const char *column)
{
    bool fired = false, resolved = false;
    int64_t from = DEMO_T0_MS + DRIFT_FROM * 60000LL, to = DEMO_T0_MS + DRIFT_TO * 60000LL;
    for (size_t i = 0; i < d->nevents; i++) {
        const alert_event *e = &d->events[i];
        if (strcmp(e->column, column) != 0)
            continue;
        if (e->firing && e->at_ms > from && e->at_ms <= to)
            fired = true;
        if (!e->firing && fired && e->at_ms > to)
            resolved = true;
    }
    return fired && resolved;
}

static void summary_line(const demo *d, const char *column, int64_t shift_ms, int64_t back_ms)
{
    int64_t fired = 0, resolved = 0;
    for (size_t i = 0; i < d->nevents; i++) {
        const alert_event *e = &d->events[i];
        if (strcmp(e->column, column) != 0)
            continue;
        if (e->firing && !fired && e->at_ms > shift_ms)
            fired = e->at_ms;
        if (!e->firing && fired && !resolved && e->at_ms > back_ms)
            resolved = e->at_ms;
    }
    if (fired)
        fprintf(d->out, "  %-20s fired %ld min after the shift", column,
                (long)((fired - shift_ms) / 60000));
    else
        fprintf(d->out, "  %-20s did not fire", column);
    if (resolved)
        fprintf(d->out, ", resolved %ld min after recovery\n",
                (long)((resolved - back_ms) / 60000));
    else
        fputs(", did not resolve\n", d->out);
}

int dw_demo_run(const dw_demo_options *opts, volatile sig_atomic_t *stop, char *errbuf,
                size_t errlen)
{
    demo d;
    memset(&d, 0, sizeof d);
    d.out = opts && opts->out ? opts->out : stdout;
    d.seed = opts && opts->seed ? opts->seed : 20261125;
    d.rpm = opts && opts->records_per_minute > 0 ? opts->records_per_minute : 200;
    d.total = (unsigned long)DEMO_MINUTES * (unsigned long)d.rpm;
    d.user_stop = stop;
    d.start_ms = dw_now_ms();

    int rc = 2;
    dw_mock_kafka *mk = NULL;
    dw_reference *ref = NULL;
    dw_config *cfg = NULL;
    char dir[] = "/tmp/driftwatch-demo-XXXXXX";
    char training[256], refpath[256];
    if (!mkdtemp(dir)) {
        dw_seterr(errbuf, errlen, DW_ERR_IO, "cannot create a temporary directory in /tmp");
        return 2;
    }
    snprintf(training, sizeof training, "%s/training.jsonl", dir);
    snprintf(refpath, sizeof refpath, "%s/fraud.json", dir);

    fprintf(d.out,
            "driftwatch demo\n\n"
            "A fraud model logs its features and predictions to the Kafka topic '%s'\n"
            "(%d records per minute of event time). Over %d hours of event time:\n"
            "  +00:00  normal traffic, drawn like the training data\n"
            "  +01:00  features.amount shifts up by one standard deviation (log scale) and\n"
            "          a new country, BR, appears in 20%% of the records\n"
            "  +02:00  back to normal\n\n",
            DEMO_TOPIC, d.rpm, DEMO_MINUTES / 60);

    if (write_training(training, d.seed, errbuf, errlen) < 0)
        goto out;
    dw_build_options bo;
    dw_build_options_init(&bo);
    bo.model = "fraud";
    bo.model_version = "v3";
    bo.source = "driftwatch demo: synthetic training data";
    if (dw_reference_build(training, &bo, &ref, errbuf, errlen) < 0 ||
        dw_reference_save(ref, refpath, errbuf, errlen) < 0)
        goto out;
    fprintf(d.out, "1. Reference statistics built from %d training rows: %zu columns -> %s\n",
            TRAINING_ROWS, ref->ncols, refpath);

    const char *topics[] = {DEMO_TOPIC};
    int parts[] = {3};
    if (dw_mock_kafka_new(1, topics, parts, 1, &mk, errbuf, errlen) < 0)
        goto out;
    d.bootstrap = dw_mock_kafka_bootstraps(mk);
    fprintf(d.out, "2. Embedded Kafka-protocol broker (librdkafka mock cluster) at %s\n",
            d.bootstrap);

    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "kafka:\n  brokers: \"%s\"\n  topics: [\"%s\"]\n  group_id: driftwatch-demo\n"
             "models:\n  - name: fraud\n    reference: \"%s\"\n"
             "windows:\n  - name: 15m\n    length: 15m\n    slide: 1m\n"
             "alerts:\n  for: 2\n"
             "time:\n  allowed_lateness: 30s\n  idle_timeout: 0s\n"
             "sinks: []\nhttp:\n  enabled: false\nstate_dir: \"%s\"\n",
             d.bootstrap, DEMO_TOPIC, refpath, dir);
    if (dw_config_parse("demo.yaml", yaml, strlen(yaml), NULL, &cfg, errbuf, errlen) < 0)
        goto out;
    dw_sidecar_options so = {.emit = on_notification, .emit_ctx = &d, .drain_budget_ms = 1000};
    if (dw_sidecar_new(cfg, &so, &d.sidecar, errbuf, errlen) < 0)
        goto out;
    fprintf(d.out,
            "3. Producing %lu records; the sidecar consumes them with a 15-minute window\n"
            "   sliding by 1 minute, compares every window with the reference (KS and PSI\n"
            "   for numbers, chi-squared and PSI for categories, Benjamini-Hochberg across\n"
            "   columns) and alerts after 2 breaching evaluations:\n\n",
            d.total);

    pthread_t prod, watch;
    pthread_create(&prod, NULL, producer_main, &d);
    pthread_create(&watch, NULL, watcher_main, &d);
    char runerr[512] = "";
    int runrc = dw_sidecar_run(d.sidecar, &d.stop, runerr, sizeof runerr);
    __atomic_store_n(&d.stop, 1, __ATOMIC_RELAXED);
    pthread_join(watch, NULL);
    pthread_join(prod, NULL);
    if (runrc < 0 || d.produce_error) {
        dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "%s", d.produce_error ? d.produce_err : runerr);
        goto out;
    }

    dw_engine_stats st;
    dw_engine_stats_get(dw_sidecar_engine(d.sidecar), &st);
    int64_t shift = DEMO_T0_MS + DRIFT_FROM * 60000LL, back = DEMO_T0_MS + DRIFT_TO * 60000LL;
    fprintf(d.out,
            "\nSummary: %lu records produced, %llu consumed and applied, %llu window "
            "evaluations, %llu notifications, %.1f s wall time.\n",
            d.produced, (unsigned long long)st.applied, (unsigned long long)st.evaluations,
            (unsigned long long)st.notifications, (double)(dw_now_ms() - d.start_ms) / 1000.0);
    for (int r = 0; r < DW_REJECT_MAX; r++)
        if (st.rejected[r])
            fprintf(d.out, "  %llu records rejected: %s\n", (unsigned long long)st.rejected[r],
                    dw_reject_reason_name((dw_reject_reason)r));
    summary_line(&d, "features.amount", shift, back);
    summary_line(&d, "features.country", shift, back);
    bool ok = check_story(&d, "features.amount") && check_story(&d, "features.country");
    fprintf(d.out, "%s\n",
            ok ? "\nBoth injected drifts were detected and resolved; the other columns stayed "
                 "quiet.\nNext: 'driftwatch reference build' on your training data, then "
                 "'driftwatch run -c config.yaml' (docs/configuration.md)."
               : "\nThe expected alerts did not all happen: this is a bug, please report it.");
    rc = ok ? 0 : 1;
out:
    dw_sidecar_free(d.sidecar);
    dw_config_free(cfg);
    dw_mock_kafka_free(mk);
    dw_reference_free(ref);
    unlink(training);
    unlink(refpath);
    /* The alert states a run leaves in its state_dir (here the demo's own
     * temporary directory, so a laptop without /var/lib/driftwatch runs
     * the demo without an error). */
    snprintf(refpath, sizeof refpath, "%s/alerts.json", dir);
    unlink(refpath);
    rmdir(dir);
    return rc;
}
