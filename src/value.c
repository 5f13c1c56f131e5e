#include "driftwatch/value.h"

#include "driftwatch/histogram.h"
#include "driftwatch/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dw_value_text_is_missing(const char *s, size_t len)
{
    /* The training-data reader's list, so serving and training agree. */
    return dw_text_is_missing(s, len) != 0;
}

static dw_value_class categorize(const dw_ref_column *col, const char *s, size_t len, long *index,
                                 const char **text, size_t *tlen)
{
    long idx = dw_ref_category(col, s, len);
    if (idx >= 0) {
        *index = idx;
        return DW_CLASS_CATEGORY;
    }
    *text = s;
    *tlen = len;
    return DW_CLASS_UNSEEN;
}

dw_value_class dw_value_classify(const dw_ref_column *col, const dw_value *v, long *index,
                                 const char **text, size_t *len, char scratch[DW_VALUE_SCRATCH])
{
    if (v->kind == DW_VAL_MISSING)
        return DW_CLASS_MISSING;
    if (v->kind == DW_VAL_OTHER)
        return DW_CLASS_TYPE_ERROR;
    if (col->type == DW_COL_NUMERIC) {
        double x;
        if (v->kind == DW_VAL_NUMBER) {
            x = v->num;
        } else if (v->kind == DW_VAL_STRING) {
            if (dw_value_text_is_missing(v->str, v->len))
                return DW_CLASS_MISSING;
            /* Numbers logged as strings ("12.5") count as numbers, as the
             * CSV reader reads them. */
            if (dw_parse_number(v->str, v->len, &x) < 0)
                return DW_CLASS_TYPE_ERROR;
        } else {
            return DW_CLASS_TYPE_ERROR;
        }
        if (isnan(x))
            return DW_CLASS_MISSING;
        *index = dw_ref_bin(col, x);
        return DW_CLASS_BIN;
    }
    switch (v->kind) {
    case DW_VAL_STRING:
        if (dw_value_text_is_missing(v->str, v->len))
            return DW_CLASS_MISSING;
        return categorize(col, v->str, v->len, index, text, len);
    case DW_VAL_BOOL:
        return v->b ? categorize(col, "true", 4, index, text, len)
                    : categorize(col, "false", 5, index, text, len);
    case DW_VAL_NUMBER: {
        /* Integer-coded categories (zip codes, ids) arrive as numbers. They
         * are named by the same shortest round-trip text the training-data
         * reader used, so 5 and 5.0 are the same category. NaN is missing
         * here as in a numeric column. */
        if (isnan(v->num))
            return DW_CLASS_MISSING;
        if (!isfinite(v->num))
            return DW_CLASS_TYPE_ERROR;
        size_t n = dw_format_number(v->num, scratch);
        return categorize(col, scratch, n, index, text, len);
    }
    default: return DW_CLASS_TYPE_ERROR;
    }
}
