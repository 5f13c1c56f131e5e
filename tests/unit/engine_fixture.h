/* Shared by the engine's unit tests (test_engine.c, test_engine_state.c):
 * generated records of one model and a reference built from them.
 * Include after cmocka.h. */
#ifndef DW_TEST_ENGINE_FIXTURE_H
#define DW_TEST_ENGINE_FIXTURE_H

#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Event time of the first generated minute. */
#define T0 1795500000000LL

/* A Mersenne Twister generator seeded with seed; gsl_rng_free() it. */
static inline gsl_rng *dwt_rng(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

/* One record of model "m": numeric features.x (shifted by `shift`) and
 * features.y, categorical features.c (a, b, c; with newcat, 30% of the
 * records carry that unseen category instead), prediction.score. version
 * NULL: no model_version field. Returns the length written. */
static inline int dwt_record(char *buf, size_t cap, gsl_rng *r, int64_t ts, double shift,
                             const char *newcat, const char *version)
{
    static const char *cats[] = {"a", "b", "c"};
    const char *c = newcat && gsl_rng_uniform(r) < 0.3 ? newcat : cats[gsl_rng_uniform_int(r, 3)];
    return snprintf(buf, cap,
                    "{\"ts\":%lld,\"model\":\"m\",%s%s%s\"features\":{\"x\":%.4f,\"y\":%.4f,"
                    "\"c\":\"%s\"},\"prediction\":{\"score\":%.4f}}",
                    (long long)ts, version ? "\"model_version\":\"" : "", version ? version : "",
                    version ? "\"," : "", gsl_ran_gaussian(r, 1.0) + shift,
                    gsl_ran_gaussian(r, 1.0), c, gsl_rng_uniform(r));
}

/* Writes the reference of `rows` generated records (seed picks them) to
 * path, using dir for the training file. */
static inline void dwt_build_reference(const char *dir, const char *path, unsigned long seed,
                                       int rows)
{
    char training[256];
    snprintf(training, sizeof training, "%s/training.jsonl", dir);
    FILE *fp = fopen(training, "w");
    assert_non_null(fp);
    gsl_rng *r = dwt_rng(seed);
    char buf[512];
    for (int i = 0; i < rows; i++) {
        dwt_record(buf, sizeof buf, r, T0, 0, NULL, NULL);
        fprintf(fp, "%s\n", buf);
    }
    fclose(fp);
    gsl_rng_free(r);
    dw_build_options o;
    dw_build_options_init(&o);
    o.model = "m";
    dw_reference *ref = NULL;
    char err[512];
    assert_int_equal(dw_reference_build(training, &o, &ref, err, sizeof err), 0);
    assert_int_equal(dw_reference_save(ref, path, err, sizeof err), 0);
    dw_reference_free(ref);
    unlink(training);
}

#endif
