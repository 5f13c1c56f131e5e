/* Internal to src/config*.c: the models[].compare and models[].latency
 * blocks (src/config_canary.c) and the thresholds reader they share with
 * the rest of the schema (src/config.c). */
#ifndef DRIFTWATCH_CONFIG_CANARY_INT_H
#define DRIFTWATCH_CONFIG_CANARY_INT_H

#include "config_yaml_int.h"

/* A "thresholds:" block at map["thresholds"] applied onto *t (config.c). */
int dw_cfg_thresholds_block(dw_yaml_ctx *c, yaml_node_t *map, const char *parent,
                            dw_thresholds *t);

/* Parses models[i].compare and models[i].latency of every model. Runs after
 * models and windows (they name windows). */
int dw_cfg_parse_canary(dw_yaml_ctx *c, yaml_node_t *root);

/* Frees what dw_cfg_parse_canary() put into m. */
void dw_cfg_free_canary(dw_model_config *m);

#endif
