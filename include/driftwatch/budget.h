/* What a configuration will cost before anything is allocated: the memory
 * of every model's windows and the fields a record must be read to.
 *
 * `driftwatch validate` and the engine's start-up (and reload) call
 * dw_budget_check(), so a configuration whose windows cannot fit in
 * evaluation.max_memory_mb, or whose reference has more columns than a
 * record is read to (records.max_fields), is refused with the figures in
 * the message instead of aborting at the first record (the out-of-memory
 * policy of error.h) or silently reading columns as missing. */
#ifndef DRIFTWATCH_BUDGET_H
#define DRIFTWATCH_BUDGET_H

#include "driftwatch/config.h"
#include "driftwatch/reference.h"

#include <stddef.h>
#include <stdint.h>

/* Leaves of a record that are not columns: timestamp, model, model_version. */
#define DW_BUDGET_META_FIELDS 3

typedef struct dw_budget {
    uint64_t window_bytes; /* worst case: every models[] entry at its most versions */
    uint64_t limit_bytes;  /* evaluation.max_memory_mb in bytes */
    size_t fields_needed;  /* largest reference's columns + DW_BUDGET_META_FIELDS */
} dw_budget;

/* Window memory of one (model, version) state of models[i] of cfg with its
 * reference ref (bytes dw_model_new() allocates), and the versions the
 * entry may track at once (1 when it names a version). */
uint64_t dw_budget_model_bytes(const dw_config *cfg, size_t i, const dw_reference *ref,
                               size_t *versions);

/* Computes the budget of cfg whose models[i] has the reference refs[i]
 * (cfg->nmodels entries, borrowed) into *out (may be NULL). Returns 0, or
 * DW_ERR_LIMIT with a sentence in errbuf when the window memory exceeds
 * evaluation.max_memory_mb or a reference has more columns than
 * records.max_fields leaves a record room for. Allocates nothing. */
int dw_budget_check(const dw_config *cfg, const dw_reference *const *refs, dw_budget *out,
                    char *errbuf, size_t errlen);

/* "4.3 GiB", "812.0 MiB", "96.0 KiB", "512 B" into buf; returns buf. */
char *dw_budget_format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
