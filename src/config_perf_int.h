/* The configuration's labels section and models[].performance blocks
 * (src/config_perf.c), parsed by src/config.c's schema walk. Internal to
 * src/config*.c. */
#ifndef DRIFTWATCH_CONFIG_PERF_INT_H
#define DRIFTWATCH_CONFIG_PERF_INT_H

#include "config_yaml_int.h"

/* models[i].performance of model node v (absent: m->perf.enabled stays
 * false). Paths (reference_data) resolve against the config's directory. */
int dw_cfg_parse_performance(dw_yaml_ctx *c, yaml_node_t *v, const char *path, dw_model_config *m);

/* The labels section; after models and records (it checks that they agree:
 * a performance block needs labels, labels need a performance block). */
int dw_cfg_parse_labels(dw_yaml_ctx *c, yaml_node_t *root);

void dw_cfg_free_performance(dw_perf_config *p);
void dw_cfg_free_labels(dw_labels_config *l);

/* config.c's validators, shared. */
const char *dw_cfg_v_topic(const char *s);
const char *dw_cfg_v_dotted(const char *s);

#endif
