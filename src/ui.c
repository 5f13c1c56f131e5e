#include "driftwatch/ui.h"

#include "driftwatch/dynbuf.h"
#include "driftwatch/timestamp.h"

#include "ui_int.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chart geometry (SVG user units; the SVG scales to its card). The left
 * margin holds the y-axis labels, the bottom one the x labels, rotated so
 * that bin edges and category names fit whole. */
#define CH_W 320.0
#define CH_H 190.0
#define CH_LEFT 36.0
#define CH_RIGHT 314.0
#define CH_TOP 8.0
#define CH_BOTTOM 112.0
#define XLAB_ANGLE 60.0 /* degrees, counter-clockwise */
#define XLAB_FONT 8.0
#define XLAB_MAX 16 /* bytes of an x label; longer ones end in an ellipsis */
/* Horizontal distance two rotated x labels need so as not to overlap. */
#define XLAB_PITCH 11.0
#define SPARK_W 170.0
#define SPARK_PLOT_H 28.0
#define SPARK_H 40.0
/* The smallest p-value shown as a number: below it (GSL's tails underflow
 * to 0 near 1e-308) the page says "< 1e-300" rather than a misleading 0. */
#define P_FLOOR 1e-300
/* Bounds on what one card draws, whatever the document holds. */
#define MAX_BARS 64
#define MAX_SPARK 256

static void esc(dw_dynbuf *f, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': dw_dynbuf_addstr(f, "&amp;"); break;
        case '<': dw_dynbuf_addstr(f, "&lt;"); break;
        case '>': dw_dynbuf_addstr(f, "&gt;"); break;
        case '"': dw_dynbuf_addstr(f, "&quot;"); break;
        case '\'': dw_dynbuf_addstr(f, "&#39;"); break;
        default: dw_dynbuf_addc(f, *p);
        }
    }
}

/* At most max bytes of s, escaped, with an ellipsis when cut (never in the
 * middle of a UTF-8 sequence). */
static void esc_short(dw_dynbuf *f, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        esc(f, s);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    char buf[64];
    if (max >= sizeof buf)
        max = sizeof buf - 1;
    memcpy(buf, s, max);
    buf[max] = 0;
    esc(f, buf);
    dw_dynbuf_addstr(f, "&#8230;");
}

void dw_ui_esc(dw_dynbuf *f, const char *s)
{
    esc(f, s);
}

void dw_ui_model_title(dw_dynbuf *f, const char *model, const char *version)
{
    esc(f, model);
    if (version) {
        dw_dynbuf_addstr(f, " <span class=\"ver\">");
        esc(f, version);
        dw_dynbuf_addstr(f, "</span>");
    }
}

/* A statistic for people: 3 significant digits, small p-values in
 * scientific notation, p-values that underflowed as "< 1e-300". */
static void num(dw_dynbuf *f, double x, bool p_value)
{
    if (p_value && x < P_FLOOR)
        dw_dynbuf_addstr(f, "&lt; 1e-300");
    else if (x != 0 && fabs(x) < 1e-3)
        dw_dynbuf_addf(f, "%.2e", x);
    else
        dw_dynbuf_addf(f, "%.3g", x);
}

/* A share for an axis label: whole percent from 10 % on, else one decimal. */
static void pct(dw_dynbuf *f, double share)
{
    dw_dynbuf_addf(f, share >= 0.1 || share == 0 ? "%.0f%%" : "%.1f%%", 100 * share);
}

static const char STYLE[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "background:#f3f5f7;color:#1d2733}"
    "header{background:#1d2733;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;"
    "align-items:baseline;gap:8px 28px}"
    "header h1{font-size:20px;margin:0;letter-spacing:.5px}"
    "header .kv{color:#b8c4d0;font-size:13px}header .kv b{color:#fff;font-weight:600}"
    "nav{padding:10px 24px;font-size:13px;color:#55626f}"
    "nav a{display:inline-block;margin-left:6px;padding:2px 10px;border-radius:12px;"
    "background:#e2e7ec;color:#1d2733;text-decoration:none}"
    "nav a.sel{background:#1d2733;color:#fff}"
    "main{padding:0 24px 24px}"
    "section.model{margin-top:14px}"
    "section.model h2{font-size:18px;margin:8px 0 2px}"
    "section.model h2 .ver{font-weight:400;color:#55626f}"
    "table.perf{border-collapse:collapse;font-size:13px}table.perf td,table.perf th{"
    "padding:2px 8px;border-bottom:1px solid #e3e7eb;text-align:right}"
    "table.perf tr.prov{color:#8a6d1f;font-style:italic}.rule.firing{color:#c0392b}"
    ".meta{font-size:12px;color:#55626f;margin-bottom:10px}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px}"
    ".card{background:#fff;border-radius:8px;border-left:6px solid var(--c);padding:10px 12px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.08)}"
    ".card h3{font-size:14px;margin:0;display:flex;justify-content:space-between;gap:8px;"
    "align-items:center;word-break:break-all}"
    ".badge{flex:none;font-size:11px;font-weight:600;color:#fff;background:var(--c);"
    "border-radius:10px;padding:1px 8px;text-transform:uppercase;letter-spacing:.4px}"
    ".type{font-size:11px;color:#55626f;font-weight:400}"
    "svg.chart{width:100%;height:auto;display:block;margin:4px 0}"
    ".legend{font-size:11px;color:#55626f;display:flex;gap:12px;align-items:center}"
    ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;"
    "vertical-align:-1px}"
    "table.stats{width:100%;border-collapse:collapse;font-size:12px;margin-top:6px}"
    "table.stats td{padding:1px 4px;border-top:1px solid #edf0f3}"
    "table.stats td.v{text-align:right;font-variant-numeric:tabular-nums}"
    ".sparkrow{display:flex;align-items:center;gap:8px;font-size:11px;color:#55626f;"
    "margin-top:6px}"
    ".new{font-size:11px;color:#8a4b00;margin-top:4px}"
    ".empty{background:#fff;border-radius:8px;padding:24px;margin-top:16px;color:#55626f}"
    ".ok{--c:#2e7d32}.pending{--c:#e08a00}.firing{--c:#c62828}.quality{--c:#7b1fa2}"
    ".nodata{--c:#8a97a4}"
    "footer{padding:8px 24px 20px;font-size:12px;color:#8a97a4}";

/* The drift state of one column in one window, as a CSS class and a label. */
static void card_state(const dw_status_cell *x, const char **cls, const char **label)
{
    if (x->quality_state == DW_ALERT_FIRING) {
        *cls = "quality";
        *label = "quality problem";
    } else if (x->state == DW_ALERT_FIRING) {
        *cls = "firing";
        *label = "drifting";
    } else if (x->state == DW_ALERT_PENDING || x->quality_state == DW_ALERT_PENDING ||
               (x->evaluated && x->result.drift)) {
        *cls = "pending";
        *label = "pending";
    } else if (!x->evaluated) {
        *cls = "nodata";
        *label = "no data yet";
    } else if (!x->result.enough_samples) {
        *cls = "nodata";
        *label = "too few samples";
    } else {
        *cls = "ok";
        *label = "ok";
    }
}

static void chart(dw_dynbuf *f, const char *column, const dw_status_hist *hist)
{
    size_t n = hist->n;
    if (n > MAX_BARS)
        n = MAX_BARS;
    double top = 0;
    for (size_t i = 0; i < n; i++) {
        double r = hist->reference[i];
        double c = hist->current[i];
        if (r > top)
            top = r;
        if (c > top)
            top = c;
    }
    dw_dynbuf_addstr(f, "<svg class=\"chart\" data-column=\"");
    esc(f, column);
    dw_dynbuf_addf(f,
                   "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
                   "<title>",
                   CH_W, CH_H);
    esc(f, column);
    dw_dynbuf_addstr(f, ": reference (grey) vs current window</title>");
    dw_dynbuf_addf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c5cdd5\"/>",
                   CH_LEFT, CH_BOTTOM, CH_RIGHT, CH_BOTTOM);
    if (n == 0 || top <= 0) {
        dw_dynbuf_addf(f,
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
                       "fill=\"#8a97a4\">no values in this window yet</text></svg>",
                       CH_W / 2, (CH_TOP + CH_BOTTOM) / 2);
        return;
    }
    double slot = (CH_RIGHT - CH_LEFT) / (double)n, h = CH_BOTTOM - CH_TOP;
    double gap = slot > 6 ? 1.5 : 0.5;
    for (size_t i = 0; i < n; i++) {
        double r = hist->reference[i];
        double c = hist->current[i];
        double x = CH_LEFT + slot * (double)i;
        double rh = h * r / top, chh = h * c / top;
        dw_dynbuf_addstr(f, "<g><title>");
        esc(f, hist->labels[i]);
        dw_dynbuf_addf(f, ": reference %.1f%%, current %.1f%%</title>", 100 * r, 100 * c);
        /* Reference: a full-width grey bar; current: a narrower bar in
         * the state colour on top, so both stay visible where they differ. */
        dw_dynbuf_addf(
            f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#aeb9c4\"/>",
            x + gap / 2, CH_BOTTOM - rh, slot - gap, rh);
        dw_dynbuf_addf(f,
                       "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                       "style=\"fill:var(--c)\" fill-opacity=\"0.7\"/></g>",
                       x + slot * 0.22, CH_BOTTOM - chh, slot * 0.56, chh);
    }
    /* y axis: 0, half and the top, as shares of each side's total. */
    dw_dynbuf_addf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c5cdd5\"/>",
                   CH_LEFT, CH_TOP, CH_LEFT, CH_BOTTOM);
    for (int k = 0; k <= 2; k++) {
        double y = CH_BOTTOM - h * k / 2.0;
        dw_dynbuf_addf(f,
                       "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#c5cdd5\"/>"
                       "<text class=\"ytick\" x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\" "
                       "font-size=\"9\" fill=\"#55626f\">",
                       CH_LEFT - 3, y, CH_LEFT, y, CH_LEFT - 5, y + 3);
        pct(f, top * k / 2.0);
        dw_dynbuf_addstr(f, "</text>");
    }
    /* x labels, rotated and anchored at the bar's centre: every bar when
     * they fit, else every step-th, always the first and the last. */
    size_t step = (size_t)ceil(XLAB_PITCH / slot);
    if (step < 1)
        step = 1;
    for (size_t i = 0; i < n; i++) {
        if (i % step != 0 && i != n - 1)
            continue;
        if (i != n - 1 && i + step > n - 1 && (double)(n - 1 - i) * slot < XLAB_PITCH)
            continue; /* too close to the last label */
        double x = CH_LEFT + slot * ((double)i + 0.5), y = CH_BOTTOM + 9;
        dw_dynbuf_addf(f,
                       "<text class=\"xtick\" x=\"%.2f\" y=\"%.1f\" text-anchor=\"end\" "
                       "font-size=\"%.0f\" fill=\"#55626f\" transform=\"rotate(-%.0f %.2f %.1f)\">",
                       x, y, XLAB_FONT, XLAB_ANGLE, x, y);
        esc_short(f, hist->labels[i] ? hist->labels[i] : "", XLAB_MAX);
        dw_dynbuf_addstr(f, "</text>");
    }
    dw_dynbuf_addstr(f, "</svg>");
}

/* "HH:MM" of an RFC 3339 time, with "MM-DD " before it when with_date. */
static void hhmm(dw_dynbuf *f, const char *t, bool with_date)
{
    if (!t || strlen(t) < 16) {
        dw_dynbuf_addstr(f, "?");
        return;
    }
    if (with_date)
        dw_dynbuf_addf(f, "%.5s ", t + 5);
    dw_dynbuf_addf(f, "%.5s", t + 11);
}

/* ms as RFC 3339 text in t. Returns t. */
static const char *time_text(int64_t ms, char t[40])
{
    dw_ts_format(ms, t, 40);
    return t;
}

/* PSI of recent evaluations over their window end times: the 0.2 level
 * dashed, the first and last times (UTC) under the line. Points whose PSI
 * is not finite are left out. */
static void sparkline(dw_dynbuf *f, const dw_status_point *hist, size_t n)
{
    size_t first = n > MAX_SPARK ? n - MAX_SPARK : 0;
    double top = 0;
    size_t valid = 0;
    char t0[40] = "", t1[40] = "";
    for (size_t i = first; i < n; i++) {
        double v = hist[i].psi;
        if (isfinite(v)) {
            valid++;
            if (v > top)
                top = v;
            if (!*t0)
                dw_ts_format(hist[i].at_ms, t0, sizeof t0);
            dw_ts_format(hist[i].at_ms, t1, sizeof t1);
        }
    }
    dw_dynbuf_addf(
        f,
        "<svg class=\"spark\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
        "xmlns=\"http://www.w3.org/2000/svg\"><title>PSI of the last evaluations</title>",
        SPARK_W, SPARK_H, SPARK_W, SPARK_H);
    dw_dynbuf_addf(f, "<rect width=\"%.0f\" height=\"%.0f\" rx=\"3\" fill=\"#f3f5f7\"/>", SPARK_W,
                   SPARK_PLOT_H);
    if (valid >= 1) {
        /* Scale to at least 0.25 so a calm column's noise stays flat and
         * the usual 0.2 threshold is visible as a dashed line. */
        if (top < 0.25)
            top = 0.25;
        double th = SPARK_PLOT_H - 3 - (SPARK_PLOT_H - 6) * 0.2 / top;
        dw_dynbuf_addf(f,
                       "<line x1=\"0\" y1=\"%.2f\" x2=\"%.0f\" y2=\"%.2f\" stroke=\"#d6a3a3\" "
                       "stroke-dasharray=\"3 2\"/>",
                       th, SPARK_W, th);
        dw_dynbuf_addstr(
            f, "<polyline fill=\"none\" style=\"stroke:var(--c)\" stroke-width=\"1.5\" points=\"");
        size_t k = 0;
        double lx = 0, ly = 0;
        for (size_t i = first; i < n; i++) {
            double v = hist[i].psi;
            if (!isfinite(v))
                continue;
            lx = valid > 1 ? 3 + (SPARK_W - 6) * (double)k / (double)(valid - 1) : SPARK_W / 2;
            ly = SPARK_PLOT_H - 3 - (SPARK_PLOT_H - 6) * v / top;
            dw_dynbuf_addf(f, "%s%.2f,%.2f", k ? " " : "", lx, ly);
            k++;
        }
        dw_dynbuf_addf(f, "\"/><circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" style=\"fill:var(--c)\"/>",
                       lx, ly);
        /* The time axis: evaluations are at window ends, oldest left. */
        bool days = strncmp(t0, t1, 10) != 0;
        dw_dynbuf_addf(f,
                       "<text class=\"ttick\" x=\"3\" y=\"%.0f\" font-size=\"9\" "
                       "fill=\"#55626f\">",
                       SPARK_H - 2);
        hhmm(f, t0, days);
        dw_dynbuf_addstr(f, "</text>");
        if (valid > 1) {
            dw_dynbuf_addf(f,
                           "<text class=\"ttick\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" "
                           "font-size=\"9\" fill=\"#55626f\">",
                           SPARK_W - 3, SPARK_H - 2);
            hhmm(f, t1, days);
            dw_dynbuf_addstr(f, " UTC</text>");
        }
    }
    dw_dynbuf_addstr(f, "</svg>");
}

/* One statistic row, when the value is there (finite). */
static void stat_row(dw_dynbuf *f, const char *name, bool has, double v, bool p_value)
{
    if (!has || !isfinite(v))
        return;
    dw_dynbuf_addf(f, "<tr><td>%s</td><td class=\"v\">", name);
    num(f, v, p_value);
    dw_dynbuf_addstr(f, "</td></tr>");
}

static void card(dw_dynbuf *f, const dw_status_column *col, const dw_status_cell *x)
{
    const char *cls, *label;
    card_state(x, &cls, &label);
    dw_dynbuf_addf(f, "<div class=\"card %s\"><h3><span>", cls);
    esc(f, col->name);
    dw_dynbuf_addstr(f, " <span class=\"type\">");
    esc(f, dw_status_col_type_name(col->type));
    dw_dynbuf_addf(f, "</span></span><span class=\"badge\">%s</span></h3>", label);
    chart(f, col->name, &x->histogram);
    dw_dynbuf_addstr(
        f, "<div class=\"legend\"><span><span class=\"sw\" style=\"background:#aeb9c4\"></span>"
           "reference</span><span><span class=\"sw\" style=\"background:var(--c);opacity:.7\">"
           "</span>current window</span></div>");
    dw_dynbuf_addstr(f, "<table class=\"stats\">");
    const dw_column_result *r = &x->result;
    bool ev = x->evaluated;
    if (ev)
        dw_dynbuf_addf(f, "<tr><td>samples</td><td class=\"v\">%.0f</td></tr>", (double)r->count);
    stat_row(f, "KS D", ev && r->has_ks, r->ks.statistic, false);
    stat_row(f, "KS p", ev && r->has_ks, r->ks.p_value, true);
    stat_row(f, "&chi;&sup2; p", ev && r->has_chi2, r->chi2.p_value, true);
    stat_row(f, "PSI", ev, r->psi, false);
    stat_row(f, "missing rate", ev, r->quality.missing_rate, false);
    stat_row(f, "reference missing rate", ev, r->quality.ref_missing_rate, false);
    dw_dynbuf_addstr(f, "</table>");
    if (x->nnew > 0) {
        dw_dynbuf_addstr(f, "<div class=\"new\">new categories: ");
        for (size_t i = 0; i < x->nnew; i++) {
            if (i >= 5) {
                dw_dynbuf_addf(f, " and %zu more", x->nnew - 5);
                break;
            }
            if (i)
                dw_dynbuf_addstr(f, ", ");
            esc_short(f, x->new_categories[i], 24);
        }
        dw_dynbuf_addstr(f, "</div>");
    }
    dw_dynbuf_addstr(f, "<div class=\"sparkrow\">");
    sparkline(f, x->history, x->nhistory);
    dw_dynbuf_addstr(f, "<span>PSI, recent evaluations</span></div></div>");
}

/* The window a model's cards show: the requested one if the model has it,
 * else its first; -1 when the model has none. */
static long pick_window(const dw_status_model *m, const char *want)
{
    for (size_t w = 0; want && w < m->nwindows; w++)
        if (!strcmp(m->windows[w].name, want))
            return (long)w;
    return m->nwindows ? 0 : -1;
}

static void model_section(dw_dynbuf *f, const dw_status_model *m, const char *want)
{
    long wi = pick_window(m, want);
    dw_dynbuf_addstr(f, "<section class=\"model\"><h2>");
    dw_ui_model_title(f, m->model, m->version);
    dw_dynbuf_addstr(f, "</h2><div class=\"meta\">");
    if (wi >= 0) {
        const dw_status_window *w = &m->windows[wi];
        dw_dynbuf_addstr(f, "window <b>");
        esc(f, w->name);
        dw_dynbuf_addstr(f, "</b>");
        if (w->evaluated) {
            char t[40];
            dw_dynbuf_addstr(f, " &middot; ");
            esc(f, time_text(w->start_ms, t));
            dw_dynbuf_addstr(f, " &ndash; ");
            esc(f, time_text(w->end_ms, t));
        } else {
            dw_dynbuf_addstr(f, " &middot; not evaluated yet");
        }
        dw_ui_latency_meta(f, w);
    }
    dw_dynbuf_addstr(f, " &middot; reference ");
    esc(f, m->reference_path);
    dw_dynbuf_addf(f, " (%.0f rows)", (double)m->reference_rows);
    dw_dynbuf_addstr(f, "</div><div class=\"grid\">");
    /* A model without windows (not configurable today) still lists its
     * columns, as cards without data. */
    static const dw_status_cell none;
    for (size_t j = 0; j < m->ncolumns; j++)
        card(f, &m->columns[j], wi >= 0 ? &m->columns[j].cells[wi] : &none);
    dw_dynbuf_addstr(f, "</div></section>");
}

static void header(dw_dynbuf *f, const dw_status *st, const dw_ui_header *hd)
{
    dw_dynbuf_addstr(f, "<header><h1>driftwatch</h1>");
    if (hd && hd->version) {
        dw_dynbuf_addstr(f, "<span class=\"kv\">version <b>");
        esc(f, hd->version);
        dw_dynbuf_addstr(f, "</b></span>");
    }
    if (hd && hd->have_health)
        dw_dynbuf_addf(f, "<span class=\"kv\">consumer <b>%s</b></span>",
                       hd->live ? "live" : "stalled");
    dw_dynbuf_addstr(f, "<span class=\"kv\">watermark <b>");
    char t[40];
    esc(f, st->watermark_ms != INT64_MIN ? time_text(st->watermark_ms, t) : "none yet");
    dw_dynbuf_addstr(f, "</b></span>");
    if (hd && hd->have_counters) {
        dw_dynbuf_addf(f, "<span class=\"kv\">records applied <b>%.0f</b></span>",
                       (double)hd->applied);
        dw_dynbuf_addf(f, "<span class=\"kv\">rejected <b>%.0f</b></span>", (double)hd->rejected);
    }
    if (hd && hd->have_lag)
        dw_dynbuf_addf(f, "<span class=\"kv\">consumer lag <b>%.0f</b></span>",
                       (double)hd->lag_total);
    dw_dynbuf_addstr(f, "</header>");
}

/* Links to every window name the models have (first appearance order). */
static void nav(dw_dynbuf *f, const dw_status *st, const char *want)
{
    const char *names[32];
    size_t n = 0;
    for (size_t i = 0; i < st->nmodels; i++) {
        const dw_status_model *m = &st->models[i];
        for (size_t w = 0; w < m->nwindows; w++) {
            const char *nm = m->windows[w].name;
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = !strcmp(names[k], nm);
            if (!dup && n < sizeof names / sizeof names[0])
                names[n++] = nm;
        }
    }
    if (n == 0)
        return;
    bool found = false;
    for (size_t k = 0; k < n; k++)
        found |= want && !strcmp(want, names[k]);
    dw_dynbuf_addstr(f, "<nav>window:");
    for (size_t k = 0; k < n; k++) {
        bool sel = found ? !strcmp(want, names[k]) : k == 0;
        dw_dynbuf_addf(f, "<a%s href=\"?window=", sel ? " class=\"sel\"" : "");
        /* Window names are letters, digits, '_', '-', '.' (config.c):
         * safe in a query string; escape anyway for the attribute. */
        esc(f, names[k]);
        dw_dynbuf_addstr(f, "\">");
        esc(f, names[k]);
        dw_dynbuf_addstr(f, "</a>");
    }
    dw_dynbuf_addstr(f, "</nav>");
}

char *dw_ui_render(const dw_status *status, const dw_ui_header *hd, const char *window, size_t *len)
{
    dw_dynbuf page;
    dw_dynbuf_init(&page, DW_UI_MAX_BYTES);
    dw_dynbuf *f = &page;
    dw_dynbuf_addf(f,
                   "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta http-equiv=\"refresh\" content=\"%d\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                   "<title>driftwatch status</title><style>%s</style></head><body>",
                   DW_UI_REFRESH_SECONDS, STYLE);
    header(f, status, hd);
    nav(f, status, window);
    dw_dynbuf_addstr(f, "<main>");
    if (status->nmodels == 0) {
        dw_dynbuf_addstr(
            f, "<div class=\"empty\">No window has been evaluated yet. Charts appear once the "
               "first window closes in event time (records are being counted meanwhile).</div>");
    }
    dw_ui_comparisons(f, status);
    for (size_t i = 0; i < status->nmodels; i++)
        model_section(f, &status->models[i], window);
    if (status->perf)
        dw_ui_performance(f, status->perf, window);
    dw_dynbuf_addf(
        f,
        "</main><footer>Grey bars: training reference; coloured bars: the current window "
        "(green ok, amber pending, red drifting, purple data-quality problem, grey not "
        "enough data). The page refreshes every %d s.</footer></body></html>\n",
        DW_UI_REFRESH_SECONDS);
    if (len)
        *len = page.len;
    return dw_dynbuf_take(&page);
}
