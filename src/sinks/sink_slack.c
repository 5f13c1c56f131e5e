/* The Slack sink: posts to a Slack incoming webhook
 * (https://api.slack.com/messaging/webhooks) a message with `text` (the
 * fallback shown in notifications) and Block Kit `blocks`: a header with
 * what fires (drift, canary divergence, ...), the model, version and windows, one section per alert
 * (firing and resolved, marked), and a context line with the evaluation time.
 *
 * Slack allows about one message a second per webhook: the sink's
 * default min_interval is 1000 ms, and 429 + Retry-After is honoured by the
 * notifier. Block Kit bounds (50 blocks, 150 characters of header, 3000 per
 * section) are respected by folding alerts beyond DW_SLACK_MAX_ALERT_BLOCKS
 * into one "+N more" section. */
#include "sink_int.h"

#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sections for alerts; with the header, the context and the "+N more"
 * section the message stays under Slack's 50 blocks. */
#define DW_SLACK_MAX_ALERT_BLOCKS 45
/* Slack's limits for header text and section text. */
#define SLACK_HEADER_MAX 150
#define SLACK_SECTION_MAX 3000
/* Bound on a text while it is built, before it is cut to the limits above
 * (far above them, so the cut and its "..." happen there). */
#define SLACK_BUILD_MAX (1024 * 1024)
/* Columns named in the fallback text per status. */
#define TEXT_MAX_COLUMNS 10
/* Distinct windows named in the header. */
#define HEADER_MAX_WINDOWS 8

static const dw_sink_option slack_options[] = {
    {.key = "channel", .type = DW_SINK_OPT_STRING},
    {.key = "username", .type = DW_SINK_OPT_STRING},
    {0},
};

/* Appends s escaped for Slack mrkdwn: &, < and > are control characters
 * there (links, mentions), control characters would break the line, and a
 * backtick would end the code span the column name sits in. */
static void add_mrkdwn(dw_dynbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': dw_dynbuf_addstr(b, "&amp;"); break;
        case '<': dw_dynbuf_addstr(b, "&lt;"); break;
        case '>': dw_dynbuf_addstr(b, "&gt;"); break;
        case '`': dw_dynbuf_addstr(b, "'"); break;
        default:
            if ((unsigned char)*s < 0x20)
                dw_dynbuf_addstr(b, " ");
            else
                dw_dynbuf_add(b, s, 1);
        }
    }
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool is_resolved(json_t *a)
{
    const char *st = str_of(a, "status");
    return st && strcmp(st, "resolved") == 0;
}

static json_t *text_obj(const char *type, const char *text)
{
    return json_pack("{s:s, s:s}", "type", type, "text", text);
}

/* "Drift: fraud v3 (15m, 1h)", "Latency SLO: ..." (the kinds that fire,
 * dw_sink_alerts_header()) or "Resolved: ..." when nothing fires. */
static json_t *header_block(json_t *doc, json_t *alerts, bool any_firing)
{
    dw_dynbuf b;
    dw_dynbuf_init(&b, SLACK_BUILD_MAX);
    if (any_firing) {
        dw_sink_alerts_header(alerts, &b);
        dw_dynbuf_addstr(&b, ": ");
    } else {
        dw_dynbuf_addstr(&b, "Resolved: ");
    }
    const char *model = str_of(doc, "model"), *version = str_of(doc, "model_version");
    dw_dynbuf_addstr(&b, model ? model : "(unknown model)");
    if (version && *version) {
        dw_dynbuf_addstr(&b, " ");
        dw_dynbuf_addstr(&b, version);
    }
    const char *seen[HEADER_MAX_WINDOWS];
    size_t nseen = 0, more = 0;
    size_t i;
    json_t *a;
    json_array_foreach (alerts, i, a) {
        const char *w = str_of(a, "window");
        if (!w)
            continue;
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = strcmp(seen[k], w) == 0;
        if (dup)
            continue;
        if (nseen < HEADER_MAX_WINDOWS)
            seen[nseen++] = w;
        else
            more++;
    }
    for (size_t k = 0; k < nseen; k++) {
        dw_dynbuf_addstr(&b, k ? ", " : " (");
        dw_dynbuf_addstr(&b, seen[k]);
    }
    if (more)
        dw_dynbuf_addstr(&b, ", ...");
    if (nseen)
        dw_dynbuf_addstr(&b, ")");
    /* plain_text: nothing to escape; only Slack's length limit. */
    for (size_t k = 0; k < b.len; k++)
        if ((unsigned char)b.buf[k] < 0x20)
            b.buf[k] = ' ';
    dw_dynbuf_shorten_utf8(&b, SLACK_HEADER_MAX, "...");
    json_t *blk =
        json_pack("{s:s, s:o}", "type", "header", "text",
                  json_pack("{s:s, s:s, s:b}", "type", "plain_text", "text", b.buf, "emoji", 1));
    dw_dynbuf_free(&b);
    return blk;
}

/* One alert: ":red_circle: *FIRING* `features.amount` · 15m · warning ·
 * distribution\nKS D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples". */
static json_t *alert_block(json_t *a)
{
    dw_dynbuf b;
    dw_dynbuf_init(&b, SLACK_BUILD_MAX);
    bool resolved = is_resolved(a);
    dw_dynbuf_addstr(&b,
                     resolved ? ":large_green_circle: *RESOLVED* `" : ":red_circle: *FIRING* `");
    const char *col = str_of(a, "column");
    add_mrkdwn(&b, col ? col : "?");
    dw_dynbuf_addstr(&b, "`");
    static const char *const keys[] = {"window", "severity", "kind"};
    for (size_t k = 0; k < 3; k++) {
        const char *v = str_of(a, keys[k]);
        if (v) {
            dw_dynbuf_addstr(&b, " · ");
            add_mrkdwn(&b, v);
        }
    }
    char stats[1024];
    dw_sink_alert_stats(a, stats, sizeof stats);
    if (stats[0]) {
        dw_dynbuf_addstr(&b, "\n");
        add_mrkdwn(&b, stats);
    }
    if (resolved) {
        const char *since = str_of(a, "starts_at"), *until = str_of(a, "ends_at");
        if (since && until) {
            dw_dynbuf_addstr(&b, "\nfiring from ");
            add_mrkdwn(&b, since);
            dw_dynbuf_addstr(&b, " to ");
            add_mrkdwn(&b, until);
        }
    }
    dw_dynbuf_shorten_utf8(&b, SLACK_SECTION_MAX, "...");
    json_t *blk = json_pack("{s:s, s:o}", "type", "section", "text", text_obj("mrkdwn", b.buf));
    dw_dynbuf_free(&b);
    return blk;
}

/* The fallback: "driftwatch: fraud v3: 2 firing (features.amount 15m,
 * features.age 15m); 1 resolved (features.country 1h)". */
static char *fallback_text(json_t *doc, json_t *alerts, size_t nfiring, size_t nresolved)
{
    dw_dynbuf b;
    dw_dynbuf_init(&b, SLACK_BUILD_MAX);
    dw_dynbuf_addstr(&b, "driftwatch: ");
    const char *model = str_of(doc, "model"), *version = str_of(doc, "model_version");
    add_mrkdwn(&b, model ? model : "(unknown model)");
    if (version && *version) {
        dw_dynbuf_addstr(&b, " ");
        add_mrkdwn(&b, version);
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t count = pass ? nresolved : nfiring;
        if (!count)
            continue;
        char head[64];
        snprintf(head, sizeof head, "%s %zu %s (", pass && nfiring ? ";" : ":", count,
                 pass ? "resolved" : "firing");
        dw_dynbuf_addstr(&b, head);
        size_t shown = 0, i;
        json_t *a;
        json_array_foreach (alerts, i, a) {
            if (is_resolved(a) != (pass == 1))
                continue;
            if (shown == TEXT_MAX_COLUMNS) {
                dw_dynbuf_addstr(&b, ", ...");
                break;
            }
            const char *col = str_of(a, "column"), *w = str_of(a, "window");
            dw_dynbuf_addstr(&b, shown ? ", " : "");
            add_mrkdwn(&b, col ? col : "?");
            if (w) {
                dw_dynbuf_addstr(&b, " ");
                add_mrkdwn(&b, w);
            }
            shown++;
        }
        dw_dynbuf_addstr(&b, ")");
    }
    return dw_dynbuf_take(&b);
}

static int slack_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *alerts;
    json_t *d = dw_sink_filter_alert_list(spec, doc, &alerts);
    if (!d)
        return DW_SINK_SKIP;
    size_t n = json_array_size(alerts);
    size_t nfiring = 0, i;
    json_t *a;
    json_array_foreach (alerts, i, a)
        nfiring += !is_resolved(a);

    json_t *blocks = json_array();
    json_array_append_new(blocks, header_block(d, alerts, nfiring > 0));
    /* Firing alerts first: they are what someone has to act on. */
    size_t shown = 0;
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach (alerts, i, a) {
            if (is_resolved(a) != (pass == 1) || shown >= DW_SLACK_MAX_ALERT_BLOCKS)
                continue;
            json_array_append_new(blocks, alert_block(a));
            shown++;
        }
    }
    if (shown < n) {
        char more[64];
        snprintf(more, sizeof more, "+%zu more", n - shown);
        json_array_append_new(
            blocks, json_pack("{s:s, s:o}", "type", "section", "text", text_obj("mrkdwn", more)));
    }
    dw_dynbuf ctx;
    dw_dynbuf_init(&ctx, SLACK_BUILD_MAX);
    const char *at = str_of(d, "evaluated_at"), *id = str_of(d, "id");
    dw_dynbuf_addstr(&ctx, "evaluated at ");
    add_mrkdwn(&ctx, at ? at : "?");
    if (id) {
        dw_dynbuf_addstr(&ctx, " · notification ");
        add_mrkdwn(&ctx, id);
    }
    dw_dynbuf_shorten_utf8(&ctx, SLACK_SECTION_MAX, "...");
    json_t *elems = json_array();
    json_array_append_new(elems, text_obj("mrkdwn", ctx.buf));
    dw_dynbuf_free(&ctx);
    json_array_append_new(blocks, json_pack("{s:s, s:o}", "type", "context", "elements", elems));

    char *text = fallback_text(d, alerts, nfiring, n - nfiring);
    json_t *msg = json_pack("{s:s, s:o}", "text", text, "blocks", blocks);
    free(text);
    const char *channel = dw_sink_spec_option(spec, "channel");
    const char *username = dw_sink_spec_option(spec, "username");
    if (channel)
        json_object_set_new(msg, "channel", json_string(channel));
    if (username)
        json_object_set_new(msg, "username", json_string(username));
    int rc = msg ? dw_http_request_set_json(out, msg) : DW_ERR_INVALID;
    json_decref(msg);
    json_decref(d);
    return rc;
}

const dw_sink_ops dw_sink_slack = {
    .name = "slack",
    .roles = DW_SINK_ROLE_ALERTS,
    .options = slack_options,
    .validate = NULL,
    .format = slack_format,
    .classify_response = NULL, /* the shared policy: 429 and 5xx retried */
    .write = NULL,
    .one_alert_per_request = false,
    .default_min_interval_ms = 1000,
};
