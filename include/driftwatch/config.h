/* The driftwatch configuration: a YAML (or JSON) file parsed with libyaml and
 * validated strictly. docs/configuration.md documents every key.
 *
 * Strictness: unknown keys, wrong types, missing required keys and values
 * out of range are refused with one sentence "<file>:<line>: <path>: <reason>"
 * (lines are 1-based). Scalar values (never keys) may contain ${VAR} and
 * ${VAR:-default}; "$$" is a literal dollar. Relative paths (models[].reference,
 * state_dir) are resolved against the directory of the configuration file.
 *
 * Ownership: a dw_config owns every string and array reachable from it; it is
 * immutable after loading and freed in one call with dw_config_free(). All
 * durations are int64 milliseconds. */
#ifndef DRIFTWATCH_CONFIG_H
#define DRIFTWATCH_CONFIG_H

#include "driftwatch/drift.h"
#include "driftwatch/log.h"
#include "driftwatch/sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds (a larger configuration is refused with DW_ERR_LIMIT). */
#define DW_CONFIG_MAX_BYTES (1024 * 1024) /* size of the file */
#define DW_CONFIG_MAX_NODES 200000        /* YAML nodes visited, aliases expanded */
#define DW_CONFIG_MAX_SCALAR 65536        /* one value after ${} interpolation */
#define DW_CONFIG_MAX_WINDOWS 16
#define DW_CONFIG_MAX_PANES 1440 /* length / slide of one window */
#define DW_CONFIG_MAX_MODELS 256
#define DW_CONFIG_MAX_SINKS 32
#define DW_CONFIG_MAX_RETRAIN 32
#define DW_CONFIG_MAX_TOPICS 64
#define DW_CONFIG_MAX_LIST 256              /* records.columns/fields, filter lists */
#define DW_CONFIG_MAX_MAP 128               /* kafka.properties, headers */
#define DW_CONFIG_MAX_COLUMN_OVERRIDES 4096 /* models[].columns entries per model */
#define DW_CONFIG_MAX_NAME 64               /* window, sink and retrain names */

/* A string key/value pair (properties, headers, type-specific parameters).
 * Non-string YAML scalars are kept as written ("true", "5"). */
typedef struct dw_kv {
    char *key;
    char *value;
} dw_kv;

/* Value of key in kv[0..n), or NULL. */
const char *dw_kv_get(const dw_kv *kv, size_t n, const char *key);

typedef enum dw_offset_reset { DW_OFFSET_EARLIEST = 0, DW_OFFSET_LATEST = 1 } dw_offset_reset;

typedef struct dw_kafka_config {
    char *brokers;  /* librdkafka bootstrap.servers */
    size_t ntopics; /* 1..DW_CONFIG_MAX_TOPICS */
    char **topics;
    char *group_id;                    /* default "driftwatch" */
    dw_offset_reset auto_offset_reset; /* default earliest */
    char *dead_letter_topic;           /* NULL: none */
    size_t nproperties;                /* passed to librdkafka as is */
    dw_kv *properties;
    int64_t poll_timeout_ms;    /* default 100 */
    int64_t commit_interval_ms; /* default 5000 */
    int64_t max_message_bytes;  /* default 1048576 */
} dw_kafka_config;

typedef struct dw_records_config {
    char *timestamp;     /* dotted path, default "ts" */
    char *model;         /* default "model" */
    char *model_version; /* default "model_version" */
    size_t ncolumns;     /* object paths whose members become "<path>.<member>" */
    char **columns;      /* default {"features", "prediction"} */
    size_t nfields;      /* extra scalar paths monitored as they are */
    char **fields;       /* default none */
    char *default_model; /* NULL: records without a model field are dropped */
    size_t max_fields;   /* leaves read per record, default 1024 (16..65536) */
} dw_records_config;

/* A per-column override inside a model. */
typedef struct dw_column_config {
    char *name;               /* full column name, e.g. "features.amount" */
    int line;                 /* line in the configuration, for messages */
    bool ignore;              /* never evaluated */
    dw_thresholds thresholds; /* resolved: global < model < column */
} dw_column_config;

/* models[].latency (docs/configuration.md, docs/canary.md): a latency field
 * per record kept in a fixed-range quantile sketch (sketch.h) per version
 * and window, and SLO rules on its quantiles. */
#define DW_CONFIG_MAX_QUANTILES 8
#define DW_CONFIG_MAX_SLOS 16
typedef struct dw_slo_config {
    char *name;
    double quantile;   /* (0, 1) */
    double max;        /* limit in the field's unit */
    size_t window;     /* index into dw_config.windows */
    char *version;     /* NULL: every version */
    bool critical;     /* severity critical (default warning) */
    uint32_t for_evaluations; /* default alerts.for */
    int line;
} dw_slo_config;

typedef struct dw_latency_config {
    bool enabled;       /* the block is present */
    char *field;        /* dotted path, default "latency_ms" */
    double unit_s;      /* seconds per unit of the field: ms 0.001, s 1, us 1e-6 */
    const char *unit;   /* "ms", "s" or "us" (static) */
    double alpha;       /* relative error, default 0.01 */
    double min, max;    /* the sketch's range, in the field's unit */
    size_t nquantiles;  /* default 0.5, 0.9, 0.99 */
    double quantiles[DW_CONFIG_MAX_QUANTILES];
    size_t nslos;
    dw_slo_config *slos;
} dw_latency_config;

/* models[].compare: candidate versions against a baseline version. */
typedef struct dw_compare_config {
    bool enabled;
    char *baseline;      /* NULL: the version with the most records in the window */
    size_t ncandidates;  /* 0: every version but the baseline */
    char **candidates;
    size_t ncolumns;     /* 0: every column; an entry ending in "." is a prefix */
    char **columns;
    uint32_t windows;    /* bit i: windows[i] compared (default every window) */
    dw_thresholds thresholds; /* default the model's */
    double latency_quantile;  /* with latency: default 0.99 */
    double latency_max_ratio; /* 0: no latency gate */
    uint32_t for_evaluations; /* default alerts.for */
} dw_compare_config;
/* models[].performance: model quality from delayed labels (docs/performance.md). */
#define DW_CONFIG_MAX_PERF_RULES 16
typedef struct dw_perf_rule_config {
    int metric;       /* a dw_perf_metric (perf.h) */
    double margin;    /* >= 0 */
    double reference; /* NaN: from performance.reference_data */
    int line;
} dw_perf_rule_config;

typedef struct dw_perf_config {
    bool enabled;          /* the model has a performance block */
    int kind;              /* a dw_perf_kind: 1 classification, 2 regression */
    char *positive;        /* classification: the positive class as text */
    char *score;           /* dotted path: P(positive) (classification) */
    char *predicted;       /* dotted path: predicted class, or regression value */
    double threshold;      /* classification without predicted: score >= threshold */
    uint32_t score_bins;   /* default 1000 */
    uint32_t ece_bins;     /* default 10 */
    double confidence;     /* default 0.95 */
    uint64_t min_labels;   /* labelled records a window needs for a verdict, default 200 */
    bool estimate;         /* CBPE (classification with a score), default true */
    char *reference_data;  /* labelled validation CSV/JSONL, or NULL */
    char *reference_label; /* its label column, default "label" */
    size_t nrules;
    dw_perf_rule_config *rules;
    int line;
} dw_perf_config;

/* labels: the labels stream joined to predictions (docs/performance.md). */
typedef struct dw_labels_config {
    bool enabled;   /* the section is present */
    size_t ntopics; /* topics read for labels (0: the predictions' topics) */
    char **topics;
    char *key;            /* join key path in both record kinds, default "request_id" */
    char *label;          /* label value path, default "label" */
    char *timestamp;      /* label event time path, default records.timestamp */
    int64_t max_delay_ms; /* default 1h */
    int64_t max_early_ms; /* default 0 = max_delay */
    int64_t memory_mb;    /* the join's whole budget, default 256 */
} dw_labels_config;

typedef struct dw_model_config {
    char *name;
    char *version;   /* NULL: any version (each version tracked separately) */
    char *reference; /* path, resolved against the config's directory */
    int line;        /* line of the model entry */
    int reference_line;
    dw_thresholds thresholds; /* resolved: global < model */
    size_t ncolumns;          /* sorted by name */
    dw_column_config *columns;
    dw_compare_config compare;
    dw_latency_config latency;
    dw_perf_config perf; /* performance: (perf.enabled false when absent) */
} dw_model_config;

typedef struct dw_window_config {
    char *name;
    int64_t length_ms;
    int64_t slide_ms;
    uint32_t panes; /* length / slide, 1..DW_CONFIG_MAX_PANES */
} dw_window_config;

typedef enum dw_severity {
    DW_SEVERITY_ANY = 0, /* no filter */
    DW_SEVERITY_WARNING,
    DW_SEVERITY_CRITICAL,
} dw_severity;

typedef struct dw_sink_filter {
    size_t nmodels; /* 0: every model */
    char **models;
    size_t ncolumns; /* 0: every column */
    char **columns;
    dw_severity min_severity; /* warning: all alerts; critical: critical only */
} dw_sink_filter;

typedef struct dw_sink_config {
    char *name;
    const char *type;   /* a registered sink type's name (sink.h); static, not owned */
    char *url;          /* NULL: the type takes none, or uses its default_url */
    int64_t timeout_ms; /* default 5000 */
    int max_retries;    /* default 5 */
    bool send_resolved; /* default true */
    size_t nheaders;
    dw_kv *headers;
    int64_t min_interval_ms; /* default 0 */
    dw_sink_filter filter;
    size_t nparams; /* the type's own options (sink.h's option tables), validated;
                       options left unset or empty are not listed */
    dw_kv *params;
} dw_sink_config;

typedef struct dw_retrain_config {
    char *name;
    const char *type;    /* a registered sink type's name (sink.h); static, not owned */
    char *url;           /* NULL: the type's default_url */
    char *model;         /* NULL: any model */
    int min_columns;     /* default 3 */
    char *window;        /* a windows[].name; default the first window */
    int64_t for_ms;      /* default 15m */
    int64_t cooldown_ms; /* default 6h */
    size_t nparams;
    dw_kv *params;
} dw_retrain_config;

typedef struct dw_alerts_config {
    int for_evaluations;        /* "for", default 2 */
    double clear_psi;           /* default 0.1 */
    double clear_ks;            /* default 0.05 */
    int64_t keep_firing_for_ms; /* default 0 */
    bool group_by_model;        /* default true */
} dw_alerts_config;

typedef struct dw_config {
    char *path;    /* the name given to load/parse, used in messages */
    char *basedir; /* directory relative paths were resolved against, or NULL */
    dw_kafka_config kafka;
    dw_records_config records;
    size_t nmodels; /* 1..DW_CONFIG_MAX_MODELS */
    dw_model_config *models;
    size_t nwindows; /* 1..DW_CONFIG_MAX_WINDOWS */
    dw_window_config *windows;
    dw_thresholds thresholds; /* the global block */
    dw_alerts_config alerts;
    struct {
        int64_t allowed_lateness_ms; /* default 1m */
        int64_t idle_timeout_ms;     /* default 30s; 0 disables the idle advance */
        int64_t max_future_ms;       /* default 10m; 0 disables the bound (replay) */
    } time;
    dw_labels_config labels;
    size_t nsinks; /* 0 only if the file says "sinks: []" */
    dw_sink_config *sinks;
    size_t nretrain;
    dw_retrain_config *retrain;
    struct {
        char *listen; /* "host:port", default "0.0.0.0:9187" */
        char *host;   /* host part without IPv6 brackets */
        uint16_t port;
        bool enabled; /* default true */
    } http;
    struct {
        dw_log_level level;   /* default info */
        dw_log_format format; /* default json */
    } log;
    /* state: window state and offsets on a Kafka topic (docs/operations.md). */
    struct {
        char *topic;               /* NULL: off (state lost at restart) */
        int64_t flush_interval_ms; /* default 1s: a delta at least this often */
        int64_t retention_ms;      /* for a topic created by driftwatch */
    } state;
    char *state_dir;            /* default dw_state_dir_default() */
    bool state_dir_default;     /* state_dir not configured */
    int64_t shutdown_budget_ms; /* default 10 s: notifier drain at SIGTERM */
    struct {
        uint32_t max_new_categories; /* default 32 */
        int64_t max_memory_mb;       /* window memory budget, default 1024 (src/budget.c) */
    } evaluation;
} dw_config;

/* Reads and validates the file at path (at most DW_CONFIG_MAX_BYTES);
 * relative paths inside are resolved against path's directory. On success
 * *out is a new config the caller frees with dw_config_free(); on failure
 * *out is NULL, the return is a negative dw_err and errbuf holds
 * "<path>:<line>: <reason>" (or "<path>: <reason>" for I/O errors). */
int dw_config_load(const char *path, dw_config **out, char *errbuf, size_t errlen);

/* Parses text[0..len) (need not be NUL-terminated). name is used in error
 * messages; basedir (may be NULL: paths stay as written) is what relative
 * paths are resolved against. Same ownership and errors as dw_config_load(). */
int dw_config_parse(const char *name, const char *text, size_t len, const char *basedir,
                    dw_config **out, char *errbuf, size_t errlen);

/* Frees cfg and everything it owns; NULL is a no-op. */
void dw_config_free(dw_config *cfg);

/* The thresholds that apply to column of model (global < model < column
 * overrides, resolved at load time, so this is a binary search). model NULL
 * gives the global block. *ignored (if not NULL) is set when the column is
 * marked ignore. The pointer is owned by cfg. */
const dw_thresholds *dw_config_column_thresholds(const dw_config *cfg, const dw_model_config *model,
                                                 const char *column, bool *ignored);

/* The model entry for records of (name, version): an entry with exactly that
 * version wins over one without a version. version may be NULL. Returns NULL
 * when none matches. */
const dw_model_config *dw_config_find_model(const dw_config *cfg, const char *name,
                                            const char *version);

/* Counters per pane the latency sketch of l takes (0: no latency block). */
size_t dw_config_latency_width(const dw_latency_config *l);

/* The window called name, or NULL. */
const dw_window_config *dw_config_find_window(const dw_config *cfg, const char *name);

#endif
