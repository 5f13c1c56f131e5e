/* notify_driver: feeds native notification documents to a dw_notifier and
 * prints the per-sink counters as JSON, for tests/integration/test_notifier.py.
 *
 *   notify_driver --input DOCS.jsonl [--webhook URL]... [--sink TYPE=URL]...
 *                 [--option KEY=VALUE]... [--filter-model M]... [--filter-column C]...
 *                 [--filter-severity S] [--stdout]
 *                 [--stdout-format json|text] [--max-retries N] [--timeout-ms N]
 *                 [--queue-size N] [--min-interval-ms N] [--no-send-resolved]
 *                 [--header NAME=VALUE]... [--backoff-base-ms N] [--backoff-cap-ms N]
 *                 [--seed N] [--repeat N] [--drain-ms N] [--stats FILE]
 *                 [--state-dir DIR] [--breaker-threshold N] [--breaker-open-ms N]
 *                 [--breaker-max-open-ms N]
 *
 * --sink adds a sink of any registered type (slack, pagerduty, alertmanager,
 * webhook; URL may be empty), named "<type>-<n>"; --option adds a
 * type-specific option to the sink added last (--webhook or --sink). The
 * --filter-* options apply to every sink. --state-dir turns on the durable
 * outbox (dw_notifier_options.state_dir); the --breaker-* options tune the
 * circuit breaker.
 *
 * Output (to --stats FILE, else stdout), one JSON object:
 *   {"sinks": [{"name", "submitted", "sent", "retried", "failed", "dropped",
 *               "skipped", "queued", "recovered", "deduplicated", "outbox_depth",
 *               "outbox_errors", "circuit_open"}...],
 *    "remaining": <dw_notifier_drain result>, "submits": N,
 *    "max_submit_us": <longest dw_notifier_submit call>}
 * max_submit_us is how the tests see that submit() never waits for a slow
 * receiver. Exit status 0, or 2 on bad usage/input. */
#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SINKS 8
#define MAX_HEADERS 8
#define MAX_OPTIONS 8  /* per sink */
#define MAX_FILTERS 16 /* per filter list */
#define MAX_DOCS 10000 /* documents read from --input */
#define MAX_LINE (1 << 20)

static int usage(const char *msg)
{
    fprintf(stderr, "notify_driver: %s\n", msg);
    return 2;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The names copied out of the command line (option keys, sink types,
 * header names): every one freed by owned_free() on the way out. */
static char *owned[MAX_SINKS * (MAX_OPTIONS + 1) + MAX_HEADERS];
static size_t n_owned;

static char *own_prefix(const char *v, const char *eq)
{
    return owned[n_owned++] = dw_strndup(v, (size_t)(eq - v));
}

static void owned_free(void)
{
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    n_owned = 0;
}

int main(int argc, char **argv)
{
    const char *input = NULL, *stats_path = NULL, *stdout_format = NULL;
    const char *webhooks[MAX_SINKS];
    const char *sink_types[MAX_SINKS];
    size_t n_webhooks = 0;
    dw_sink_kv sink_opts[MAX_SINKS][MAX_OPTIONS];
    size_t n_sink_opts[MAX_SINKS] = {0};
    char *filter_models[MAX_FILTERS], *filter_columns[MAX_FILTERS];
    size_t n_filter_models = 0, n_filter_columns = 0;
    const char *filter_severity = NULL;
    int want_stdout = 0, send_resolved = 1;
    long long max_retries = 3, repeat = 1, timeout_ms = 2000, drain_ms = 60000, min_interval_ms = 0,
              queue_size = 0;
    long long backoff_base_ms = 0, backoff_cap_ms = 0, breaker_threshold = 0, breaker_open_ms = 0,
              breaker_max_open_ms = 0;
    dw_notifier_options opts = {0};
    dw_sink_kv headers[MAX_HEADERS];
    size_t n_headers = 0;
    /* The options that take one value and only store it. */
    const struct {
        const char *name;
        const char **text; /* the value itself, or */
        long long *number; /* the value read by atoll() */
    } stored[] = {
        {"--input", &input, NULL},
        {"--filter-severity", &filter_severity, NULL},
        {"--stdout-format", &stdout_format, NULL},
        {"--stats", &stats_path, NULL},
        {"--state-dir", &opts.state_dir, NULL},
        {"--max-retries", NULL, &max_retries},
        {"--timeout-ms", NULL, &timeout_ms},
        {"--queue-size", NULL, &queue_size},
        {"--min-interval-ms", NULL, &min_interval_ms},
        {"--backoff-base-ms", NULL, &backoff_base_ms},
        {"--backoff-cap-ms", NULL, &backoff_cap_ms},
        {"--repeat", NULL, &repeat},
        {"--drain-ms", NULL, &drain_ms},
        {"--breaker-threshold", NULL, &breaker_threshold},
        {"--breaker-open-ms", NULL, &breaker_open_ms},
        {"--breaker-max-open-ms", NULL, &breaker_max_open_ms},
    };
    const size_t n_stored = sizeof stored / sizeof stored[0];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                                                 \
    do {                                                                                           \
        if (!v)                                                                                    \
            return usage("an option is missing its value");                                        \
        i++;                                                                                       \
    } while (0)
        size_t so = 0;
        while (so < n_stored && strcmp(a, stored[so].name) != 0)
            so++;
        if (so < n_stored) {
            NEED_VALUE;
            if (stored[so].text)
                *stored[so].text = v;
            else
                *stored[so].number = atoll(v);
        } else if (strcmp(a, "--webhook") == 0) {
            NEED_VALUE;
            if (n_webhooks + (size_t)want_stdout >= MAX_SINKS)
                return usage("too many sinks");
            sink_types[n_webhooks] = "webhook";
            webhooks[n_webhooks++] = v;
        } else if (strcmp(a, "--sink") == 0) {
            NEED_VALUE;
            char *eq = strchr(v, '=');
            if (!eq || n_webhooks + (size_t)want_stdout >= MAX_SINKS)
                return usage("--sink takes TYPE=URL (at most 8 sinks)");
            sink_types[n_webhooks] = own_prefix(v, eq);
            webhooks[n_webhooks++] = eq + 1;
        } else if (strcmp(a, "--option") == 0) {
            NEED_VALUE;
            char *eq = strchr(v, '=');
            if (!eq || n_webhooks == 0 || n_sink_opts[n_webhooks - 1] >= MAX_OPTIONS)
                return usage("--option takes KEY=VALUE after --webhook or --sink (at most 8)");
            size_t si = n_webhooks - 1, k = n_sink_opts[si]++;
            sink_opts[si][k].key = own_prefix(v, eq);
            sink_opts[si][k].value = eq + 1;
        } else if (strcmp(a, "--filter-model") == 0) {
            NEED_VALUE;
            if (n_filter_models >= MAX_FILTERS)
                return usage("too many --filter-model");
            filter_models[n_filter_models++] = (char *)v;
        } else if (strcmp(a, "--filter-column") == 0) {
            NEED_VALUE;
            if (n_filter_columns >= MAX_FILTERS)
                return usage("too many --filter-column");
            filter_columns[n_filter_columns++] = (char *)v;
        } else if (strcmp(a, "--stdout") == 0) {
            want_stdout = 1;
        } else if (strcmp(a, "--no-send-resolved") == 0) {
            send_resolved = 0;
        } else if (strcmp(a, "--header") == 0) {
            NEED_VALUE;
            char *eq = strchr(v, '=');
            if (!eq || n_headers >= MAX_HEADERS)
                return usage("--header takes NAME=VALUE (at most 8)");
            headers[n_headers].key = own_prefix(v, eq);
            headers[n_headers].value = eq + 1;
            n_headers++;
        } else if (strcmp(a, "--seed") == 0) {
            NEED_VALUE;
            opts.rng_seed = strtoull(v, NULL, 10);
        } else {
            return usage("unknown option (see the comment at the top of notify_driver.c)");
        }
#undef NEED_VALUE
    }
    if (!input)
        return usage("--input is required");
    if (repeat < 1)
        return usage("--repeat must be at least 1");
    opts.backoff_base_ms = backoff_base_ms;
    opts.backoff_cap_ms = backoff_cap_ms;
    opts.breaker_threshold = (unsigned)breaker_threshold;
    opts.breaker_open_ms = breaker_open_ms;
    opts.breaker_max_open_ms = breaker_max_open_ms;

    /* Read the documents first so that submit latency measures submit. */
    FILE *in = fopen(input, "r");
    if (!in) {
        perror(input);
        return 2;
    }
    json_t **docs = dw_calloc(MAX_DOCS, sizeof *docs);
    size_t n_docs = 0;
    char *line = dw_malloc(MAX_LINE);
    size_t lineno = 0;
    while (fgets(line, MAX_LINE, in)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        if (n_docs >= MAX_DOCS)
            return usage("too many documents in --input");
        json_error_t jerr;
        docs[n_docs] = json_loads(line, 0, &jerr);
        if (!docs[n_docs]) {
            fprintf(stderr, "notify_driver: %s:%zu:%d: %s\n", input, lineno, jerr.column,
                    jerr.text);
            return 2;
        }
        n_docs++;
    }
    fclose(in);
    free(line);

    dw_sink_spec specs[MAX_SINKS];
    char names[MAX_SINKS][32];
    dw_sink_kv fmt_opt = {"format", stdout_format ? stdout_format : "json"};
    size_t n_specs = 0;
    for (size_t i = 0; i < n_webhooks; i++) {
        dw_sink_spec *s = &specs[n_specs];
        dw_sink_spec_init(s);
        snprintf(names[n_specs], sizeof names[n_specs], "%s-%zu", sink_types[i], i + 1);
        s->name = names[n_specs];
        s->type = sink_types[i];
        s->url = webhooks[i];
        s->options = sink_opts[i];
        s->n_options = n_sink_opts[i];
        n_specs++;
    }
    if (want_stdout) {
        dw_sink_spec *s = &specs[n_specs];
        dw_sink_spec_init(s);
        s->name = "stdout";
        s->type = "stdout";
        s->options = &fmt_opt;
        s->n_options = 1;
        n_specs++;
    }
    for (size_t i = 0; i < n_specs; i++) {
        specs[i].timeout_ms = timeout_ms;
        specs[i].max_retries = (int)max_retries;
        specs[i].send_resolved = send_resolved != 0;
        specs[i].min_interval_ms = min_interval_ms;
        specs[i].queue_size = (size_t)queue_size;
        specs[i].headers = headers;
        specs[i].n_headers = n_headers;
        specs[i].filter_models = filter_models;
        specs[i].n_filter_models = n_filter_models;
        specs[i].filter_columns = filter_columns;
        specs[i].n_filter_columns = n_filter_columns;
        specs[i].filter_severity = filter_severity;
    }

    dw_notifier *n = NULL;
    char err[512];
    int rc = dw_notifier_new_ex(specs, n_specs, &opts, &n, err, sizeof err);
    if (rc) {
        fprintf(stderr, "notify_driver: %s\n", err);
        /* Freed so that the refusal paths stay clean under LeakSanitizer. */
        for (size_t i = 0; i < n_docs; i++)
            json_decref(docs[i]);
        free(docs);
        owned_free();
        return 2;
    }

    uint64_t max_us = 0;
    size_t submits = 0;
    for (int r = 0; r < repeat; r++) {
        for (size_t i = 0; i < n_docs; i++) {
            json_t *d = r + 1 < repeat ? json_deep_copy(docs[i]) : docs[i];
            uint64_t t0 = now_us();
            dw_notifier_submit(n, d);
            uint64_t dt = now_us() - t0;
            if (dt > max_us)
                max_us = dt;
            submits++;
        }
    }
    free(docs);

    int remaining = dw_notifier_drain(n, drain_ms);

    json_t *out = json_object();
    json_t *arr = json_array();
    for (size_t i = 0; i < dw_notifier_sink_count(n); i++) {
        dw_sink_stats st;
        dw_notifier_stats(n, i, &st);
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
                              dw_notifier_sink_name(n, i), "submitted", (json_int_t)st.submitted,
                              "sent", (json_int_t)st.sent, "retried", (json_int_t)st.retried,
                              "failed", (json_int_t)st.failed, "dropped", (json_int_t)st.dropped,
                              "skipped", (json_int_t)st.skipped, "queued", (json_int_t)st.queued);
        json_object_set_new(o, "recovered", json_integer((json_int_t)st.recovered));
        json_object_set_new(o, "deduplicated", json_integer((json_int_t)st.deduplicated));
        json_object_set_new(o, "outbox_depth", json_integer((json_int_t)st.outbox_depth));
        json_object_set_new(o, "outbox_errors", json_integer((json_int_t)st.outbox_errors));
        json_object_set_new(o, "circuit_open", json_integer((json_int_t)st.circuit_open));
        json_array_append_new(arr, o);
    }
    json_object_set_new(out, "sinks", arr);
    json_object_set_new(out, "remaining", json_integer(remaining));
    json_object_set_new(out, "submits", json_integer((json_int_t)submits));
    json_object_set_new(out, "max_submit_us", json_integer((json_int_t)max_us));
    dw_notifier_free(n);

    FILE *so = stats_path ? fopen(stats_path, "w") : stdout;
    if (!so) {
        perror(stats_path);
        return 2;
    }
    json_dumpf(out, so, JSON_COMPACT);
    fputc('\n', so);
    if (so != stdout)
        fclose(so);
    json_decref(out);
    owned_free();
    return 0;
}
