/* One observed value of a monitored column, and where it is counted.
 *
 * The one place that decides what a value means for a column, shared by the
 * streaming engine and `driftwatch check`, so both count the same way as the
 * training-data reader that built the reference:
 *   - null, absent, "", "NA", "NaN", "nan", "null" and NaN are missing;
 *   - a numeric column takes numbers and numeric strings ("12.5"); a bool,
 *     an object/array or other text is a type error;
 *   - a categorical column takes strings, bools ("true"/"false") and numbers
 *     (by their text, for integer-coded categories); objects/arrays are type
 *     errors; a value not listed in the reference is "unseen". */
#ifndef DRIFTWATCH_VALUE_H
#define DRIFTWATCH_VALUE_H

#include "driftwatch/reference.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum dw_value_kind {
    DW_VAL_MISSING = 0, /* null, absent */
    DW_VAL_NUMBER,
    DW_VAL_STRING, /* str/len: unescaped bytes, not NUL-terminated */
    DW_VAL_BOOL,
    DW_VAL_OTHER, /* object or array */
} dw_value_kind;

typedef struct dw_value {
    dw_value_kind kind;
    double num;      /* DW_VAL_NUMBER */
    bool b;          /* DW_VAL_BOOL */
    const char *str; /* DW_VAL_STRING */
    size_t len;
} dw_value;

typedef enum dw_value_class {
    DW_CLASS_MISSING = 0,
    DW_CLASS_TYPE_ERROR,
    DW_CLASS_BIN,      /* numeric: *index is -1 (under) .. nbins (over) */
    DW_CLASS_CATEGORY, /* categorical: *index into col->categories */
    DW_CLASS_UNSEEN,   /* categorical, not listed: *text and *len name it */
} dw_value_class;

/* Size of the scratch buffer dw_value_classify() needs (a number's text). */
#define DW_VALUE_SCRATCH 32

/* Classifies v for col. *text and *len are set for DW_CLASS_UNSEEN (they point
 * into v, into scratch, or at a static string). Never allocates. */
dw_value_class dw_value_classify(const dw_ref_column *col, const dw_value *v, long *index,
                                 const char **text, size_t *len, char scratch[DW_VALUE_SCRATCH]);

/* True for the text cells that mean "missing" (see above). */
bool dw_value_text_is_missing(const char *s, size_t len);

#endif
