/* Calibration study of the detector (bench/calibration/README.md).
 *
 * Simulates the traffic of one model with 20 columns (14 continuous of
 * varied shapes, 2 Poisson, 4 categorical with 3 to 30 levels) at a given
 * rate, builds the reference with the real builder from a training sample of
 * 2,000 or 50,000 rows, and drives the real model code (dw_model_slot,
 * dw_model_add, dw_model_evaluate: the same bins, windows, statistics,
 * decision and alert state machine as `driftwatch run` and `replay`) with
 * the default thresholds, windows 15m/1m and 1h/5m, alerts.for 2 and the
 * default clear levels. It counts alerts that fire: without drift every
 * one is a false alarm (reported per model-week), with drift injected into
 * one column it reports the minutes until that column's first alert in the
 * 15m window and the number of firing episodes.
 *
 * It uses only the library API that existed before the calibration work,
 * so the same file measures the old and the new detector.
 *
 * Usage: calibration [-s SEED] [-n SEEDS] [-w DAYS] [-f DAYS_AT_200] [FILTER]
 * FILTER: only the cases whose name contains it; SEEDS: every case is
 * repeated with that many seeds (reference and stream both redrawn): the
 * no-drift counts are summed, the drift delays reported as median, 90th
 * percentile and range (episodes: the mean per seed, the 15m window's
 * split into drift + quality). */
#include "driftwatch/alert.h"
#include "driftwatch/drift.h"
#include "driftwatch/error.h"
#include "driftwatch/model.h"
#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"
#include "driftwatch/value.h"
#include "driftwatch/window.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCOL 20
#define NCAT_COLS 4
#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define WEEK_MS (7 * DAY_MS)
#define T0 1795000020000LL /* a minute boundary */

static const int cat_levels[NCAT_COLS] = {3, 5, 10, 30};
static double cat_p[NCAT_COLS][30];

typedef enum {
    D_NONE,
    D_SHIFT,    /* column 0: mean + param * sd */
    D_SCALE,    /* column 0: sd * param */
    D_NEWCAT,   /* column 18: share param of an unseen category */
    D_NULLS,    /* column 1: share param missing */
    D_GAPS,     /* column 14 (Poisson 4): half the values - 0.5 */
    D_SENTINEL, /* column 13: share param of -999 */
} drift_kind;

typedef struct scenario {
    const char *name;
    double rate; /* records per second */
    size_t nref;
    drift_kind kind;
    double param;
    int target;
    int64_t duration_ms, drift_at_ms; /* drift from drift_at_ms to the end */
} scenario;

static const char *col_name(int j)
{
    static char names[NCOL][8];
    snprintf(names[j], sizeof names[j], "c%02d", j);
    return names[j];
}

static void init_categories(void)
{
    /* Zipf-like shares with exponent 1: a few common levels, a long tail. */
    for (int c = 0; c < NCAT_COLS; c++) {
        double s = 0;
        for (int i = 0; i < cat_levels[c]; i++)
            s += cat_p[c][i] = 1.0 / (i + 1);
        for (int i = 0; i < cat_levels[c]; i++)
            cat_p[c][i] /= s;
    }
}

static gsl_ran_discrete_t *cat_table[NCAT_COLS];

/* One value of column j, drawn from the no-drift distribution, possibly
 * changed by the drift. Returns the value through v (strings in buf). */
static void draw(gsl_rng *r, int j, const scenario *sc, bool drifting, dw_value *v, char buf[16])
{
    v->kind = DW_VAL_NUMBER;
    double x = 0;
    if (drifting && sc->kind == D_NULLS && j == sc->target && gsl_rng_uniform(r) < sc->param) {
        v->kind = DW_VAL_MISSING;
        return;
    }
    if (drifting && sc->kind == D_SENTINEL && j == sc->target && gsl_rng_uniform(r) < sc->param) {
        v->num = -999;
        return;
    }
    switch (j) {
    case 0: {
        double mu = 0, sd = 1;
        if (drifting && sc->kind == D_SHIFT && j == sc->target)
            mu = sc->param;
        if (drifting && sc->kind == D_SCALE && j == sc->target)
            sd = sc->param;
        x = mu + sd * gsl_ran_gaussian_ziggurat(r, 1.0);
        break;
    }
    case 1: x = 50 + gsl_ran_gaussian_ziggurat(r, 10.0); break;
    case 2: x = gsl_ran_lognormal(r, 0, 0.5); break;
    case 3: x = gsl_ran_lognormal(r, 3, 1); break;
    case 4: x = gsl_ran_exponential(r, 1.0); break;
    case 5: x = gsl_ran_gamma(r, 2.0, 1.0); break;
    case 6: x = gsl_rng_uniform(r); break;
    case 7: x = gsl_ran_beta(r, 2, 5); break;
    case 8: x = gsl_ran_tdist(r, 3); break;
    case 9: x = (gsl_rng_uniform(r) < 0.5 ? -2 : 2) + gsl_ran_gaussian_ziggurat(r, 1.0); break;
    case 10: x = gsl_rng_uniform(r) < 0.3 ? 0.0 : gsl_ran_gamma(r, 2.0, 1.0); break;
    case 11: x = round(gsl_ran_gaussian_ziggurat(r, 1.0) * 100) / 100; break;
    case 12: x = gsl_ran_weibull(r, 1.0, 1.5); break;
    case 13: x = gsl_ran_logistic(r, 1.0); break;
    case 14:
        x = gsl_ran_poisson(r, 4.0);
        if (drifting && sc->kind == D_GAPS && j == sc->target && gsl_rng_uniform(r) < 0.5)
            x -= 0.5;
        break;
    case 15: x = gsl_ran_poisson(r, 1.0); break;
    default: {
        int c = j - 16;
        v->kind = DW_VAL_STRING;
        if (drifting && sc->kind == D_NEWCAT && j == sc->target && gsl_rng_uniform(r) < sc->param) {
            snprintf(buf, 16, "NEW");
        } else {
            snprintf(buf, 16, "L%zu", gsl_ran_discrete(r, cat_table[c]));
        }
        v->str = buf;
        v->len = strlen(buf);
        return;
    }
    }
    v->num = x;
}

static dw_reference *build_reference(gsl_rng *r, size_t nref)
{
    char path[] = "/tmp/dw-calib-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    for (int j = 0; j < NCOL; j++)
        fprintf(f, "%s%s", col_name(j), j + 1 < NCOL ? "," : "\n");
    scenario none = {0};
    for (size_t i = 0; i < nref; i++) {
        for (int j = 0; j < NCOL; j++) {
            dw_value v;
            char buf[16];
            draw(r, j, &none, false, &v, buf);
            if (v.kind == DW_VAL_STRING)
                fprintf(f, "%s", buf);
            else
                fprintf(f, "%.17g", v.num);
            fputc(j + 1 < NCOL ? ',' : '\n', f);
        }
    }
    fclose(f);
    dw_build_options o;
    dw_build_options_init(&o);
    o.created_at = "2026-01-01T00:00:00Z";
    dw_reference *ref = NULL;
    char err[512];
    int rc = dw_reference_build(path, &o, &ref, err, sizeof err);
    unlink(path);
    if (rc < 0) {
        fprintf(stderr, "reference build: %s\n", err);
        return NULL;
    }
    return ref;
}

typedef struct outcome {
    uint64_t fired[2];      /* all columns, both windows: drift, quality */
    uint64_t target_eps[2]; /* target column, any kind: 15m, 1h window */
    uint64_t kind_eps[2];   /* target column, 15m window: drift, quality */
    double delay_min;       /* target column, 15m window, first alert after drift; < 0: none */
    int delay_kind;         /* 0 drift, 1 quality */
    uint64_t records;
    uint64_t breaches; /* (evaluation, column) pairs flagged, before alerts.for */
} outcome;

static void run(const scenario *sc, unsigned long seed, outcome *out)
{
    memset(out, 0, sizeof *out);
    out->delay_min = -1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    gsl_rng_set(r, seed);
    dw_reference *ref = build_reference(r, sc->nref);
    if (!ref)
        exit(1);
    dw_thresholds th;
    dw_thresholds_default(&th);
    const dw_thresholds *thp[NCOL];
    for (int j = 0; j < NCOL; j++)
        thp[j] = &th;
    dw_window_spec win[2] = {{"15m", 15 * MIN_MS, MIN_MS}, {"1h", HOUR_MS, 5 * MIN_MS}};
    dw_model_spec spec = {.name = "calib",
                          .ref = ref,
                          .col_thresholds = thp,
                          .windows = win,
                          .nwindows = 2,
                          .lateness_ms = 0,
                          .max_new_categories = 32,
                          .alert = {.for_count = 2},
                          .clear_psi = 0.1,
                          .clear_ks = 0.05};
    dw_model *m = dw_model_new(&spec);
    int colidx[NCOL];
    for (int j = 0; j < NCOL; j++)
        colidx[j] = dw_reference_find(ref, col_name(j));
    dw_column_result res[NCOL];
    dw_alert_event ev[2 * NCOL];
    size_t slots[NCOL];
    double t = (double)T0;
    const int64_t end = T0 + sc->duration_ms, drift_at = T0 + sc->drift_at_ms;
    const double mean_gap_ms = 1000.0 / sc->rate;
    for (;;) {
        t += gsl_ran_exponential(r, mean_gap_ms);
        int64_t ti = (int64_t)t;
        /* Close (and evaluate) every pane that ends before this record. */
        for (size_t w = 0; w < 2; w++) {
            dw_window *dw = dw_model_window(m, w);
            for (;;) {
                int64_t ne = dw_window_next_end(dw);
                if (ne == INT64_MIN || ne > ti || ne > end)
                    break;
                dw_window_close_next(dw);
                dw_model_evaluate(m, w, ne, res, ev);
                for (int j = 0; j < NCOL; j++) {
                    int c = colidx[j];
                    out->breaches += res[c].drift || res[c].quality_issue;
                    for (int k = 0; k < 2; k++) {
                        if (ev[2 * c + k] != DW_ALERT_FIRED)
                            continue;
                        out->fired[k]++;
                        if (sc->kind == D_NONE || j != sc->target || ne <= drift_at)
                            continue;
                        out->target_eps[w]++;
                        if (w == 0)
                            out->kind_eps[k]++;
                        if (w == 0 && out->delay_min < 0) {
                            out->delay_min = (double)(ne - drift_at) / MIN_MS;
                            out->delay_kind = k;
                        }
                    }
                }
            }
        }
        if (ti >= end)
            break;
        bool drifting = sc->kind != D_NONE && ti >= drift_at;
        for (int j = 0; j < NCOL; j++) {
            dw_value v;
            char buf[16];
            draw(r, j, sc, drifting, &v, buf);
            dw_slot_status st;
            slots[j] = dw_model_slot(m, (size_t)colidx[j], &v, &st);
        }
        if (dw_model_add(m, ti, slots, NCOL) < 0) {
            fprintf(stderr, "dw_model_add failed at %lld\n", (long long)ti);
            exit(1);
        }
        out->records++;
    }
    dw_model_free(m);
    dw_reference_free(ref);
    gsl_rng_free(r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    unsigned long seed = 1, nseeds = 1;
    double week_days = 7, fast_days = 1;
    int opt;
    while ((opt = getopt(argc, argv, "s:n:w:f:")) != -1) {
        switch (opt) {
        case 's': seed = strtoul(optarg, NULL, 10); break;
        case 'n': nseeds = strtoul(optarg, NULL, 10); break;
        case 'w': week_days = atof(optarg); break;
        case 'f': fast_days = atof(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-s SEED] [-n SEEDS] [-w DAYS] [-f DAYS_AT_200] [FILTER]\n",
                    argv[0]);
            return 2;
        }
    }
    const char *filter = optind < argc ? argv[optind] : NULL;
    init_categories();
    for (int c = 0; c < NCAT_COLS; c++)
        cat_table[c] = gsl_ran_discrete_preproc((size_t)cat_levels[c], cat_p[c]);

    scenario cases[96];
    size_t n = 0;
    static const double rates[] = {0.25, 0.5, 1, 20, 200};
    static const size_t refs[] = {2000, 50000};
    static char names[96][64];
    for (size_t ri = 0; ri < 2; ri++)
        for (size_t k = 0; k < 5; k++) {
            double days = rates[k] >= 200 ? fast_days : week_days;
            snprintf(names[n], sizeof names[n], "no drift %g/s ref %zuk", rates[k],
                     refs[ri] / 1000);
            cases[n] = (scenario){
                names[n], rates[k], refs[ri], D_NONE, 0, -1, (int64_t)(days * DAY_MS), 0};
            n++;
        }
    static const struct {
        const char *what;
        drift_kind kind;
        double param;
        int target;
    } drifts[] = {
        {"shift 0.25 sd", D_SHIFT, 0.25, 0},
        {"shift 0.5 sd", D_SHIFT, 0.5, 0},
        {"shift 1 sd", D_SHIFT, 1.0, 0},
        {"scale x1.5", D_SCALE, 1.5, 0},
        {"new category 2%", D_NEWCAT, 0.02, 18},
        {"new category 10%", D_NEWCAT, 0.10, 18},
        {"null flood 10%", D_NULLS, 0.10, 1},
        {"null flood 20%", D_NULLS, 0.20, 1},
        {"Poisson half down into gaps", D_GAPS, 0, 14},
        {"sentinel -999 at 8%", D_SENTINEL, 0.08, 13},
    };
    /* The issue's detection targets are at 20/s; 1/s shows what the
     * low-traffic false-alarm control costs in detection speed. */
    static const double drift_rates[] = {20, 1};
    for (size_t qi = 0; qi < 2; qi++)
        for (size_t ri = 0; ri < 2; ri++)
            for (size_t d = 0; d < sizeof drifts / sizeof drifts[0]; d++) {
                snprintf(names[n], sizeof names[n], "%s, %g/s ref %zuk", drifts[d].what,
                         drift_rates[qi], refs[ri] / 1000);
                /* An hour to fill both windows, then two hours of drift. */
                cases[n] =
                    (scenario){names[n],        drift_rates[qi],  refs[ri],    drifts[d].kind,
                               drifts[d].param, drifts[d].target, 3 * HOUR_MS, HOUR_MS};
                n++;
            }

    printf("| case | simulated | false alerts/week (drift + quality) | flagged column-evaluations "
           "/week | minutes to first alert (15m) | episodes on the column 15m/1h |\n"
           "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        outcome o;
        run(&cases[i], seed + i, &o);
        double days = (double)cases[i].duration_ms / DAY_MS;
        if (cases[i].kind == D_NONE) {
            for (unsigned long k = 1; k < nseeds; k++) {
                outcome more;
                run(&cases[i], seed + i + 1000 * k, &more);
                o.fired[0] += more.fired[0];
                o.fired[1] += more.fired[1];
                o.records += more.records;
                o.breaches += more.breaches;
            }
            days *= (double)nseeds;
            double per_week = (double)(o.fired[0] + o.fired[1]) * 7.0 / days;
            printf(
                "| %s | %.3g days (%lu seed%s), %llu records | %.3g (%llu + %llu) | %.3g | | |\n",
                cases[i].name, days, nseeds, nseeds > 1 ? "s" : "", (unsigned long long)o.records,
                per_week, (unsigned long long)o.fired[0], (unsigned long long)o.fired[1],
                (double)o.breaches * 7.0 / days);
        } else if (nseeds > 1) {
            /* The delay as a distribution over seeds (reference and stream
             * redrawn): median, 90th percentile (nearest rank), range. */
            double d[256];
            unsigned long found = 0, total = nseeds < 256 ? nseeds : 256;
            uint64_t eps[2] = {0, 0}, kinds[2] = {0, 0};
            for (unsigned long k = 0; k < total; k++) {
                outcome more = o;
                if (k > 0)
                    run(&cases[i], seed + i + 1000 * k, &more);
                eps[0] += more.target_eps[0];
                eps[1] += more.target_eps[1];
                kinds[0] += more.kind_eps[0];
                kinds[1] += more.kind_eps[1];
                if (more.delay_min >= 0)
                    d[found++] = more.delay_min;
            }
            qsort(d, found, sizeof d[0], cmp_double);
            char delay[96];
            if (found == 0)
                snprintf(delay, sizeof delay, "not detected (%lu seeds)", total);
            else
                snprintf(delay, sizeof delay, "median %.1f, p90 %.0f, %.0f–%.0f (%lu of %lu seeds)",
                         found % 2 ? d[found / 2] : 0.5 * (d[found / 2 - 1] + d[found / 2]),
                         d[(size_t)ceil(0.9 * (double)found) - 1], d[0], d[found - 1], found,
                         total);
            printf("| %s | 1 h + 2 h drift | | | %s | %.2g (%.2g + %.2g) / %.2g |\n",
                   cases[i].name, delay, (double)eps[0] / (double)total,
                   (double)kinds[0] / (double)total, (double)kinds[1] / (double)total,
                   (double)eps[1] / (double)total);
        } else {
            char delay[32];
            if (o.delay_min < 0)
                snprintf(delay, sizeof delay, "not detected");
            else
                snprintf(delay, sizeof delay, "%.0f (%s)", o.delay_min,
                         o.delay_kind ? "quality" : "drift");
            printf("| %s | 1 h + 2 h drift | | | %s | %llu / %llu |\n", cases[i].name, delay,
                   (unsigned long long)o.target_eps[0], (unsigned long long)o.target_eps[1]);
        }
        fflush(stdout);
    }
    for (int c = 0; c < NCAT_COLS; c++)
        gsl_ran_discrete_free(cat_table[c]);
    return 0;
}
