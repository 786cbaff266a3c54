/*
 * online_gate.h — the online gate: is the challenger's hit rate better than
 * the champion's? A one-sided two-proportion z-test (pooled variance):
 *   p1 = x1 / n1 (challenger), p0 = x0 / n0 (champion), p = (x1 + x0) / (n1 + n0),
 *   z = (p1 - p0 - (1/n1 + 1/n0) / 2) / sqrt(p (1 - p) (1/n1 + 1/n0))
 * (with Yates' continuity correction, which keeps the A/A false-positive rate
 * at or below alpha: test/bench/gate-sim measures it),
 * pass when z > z_(1 - alpha) (1.645 at alpha 0.05), fail otherwise, and wait
 * while either arm has fewer than min_impressions answers (the normal
 * approximation needs counts; a gate that looks early decides on noise).
 * Looked at once per decision: each repeated look at growing data spends
 * alpha again, so a cron that asks until it passes raises the false-positive
 * rate (test/bench/gate-sim measures both rates).
 *
 * Ownership: no allocation.
 */
#ifndef LENSFLOW_ONLINE_GATE_H
#define LENSFLOW_ONLINE_GATE_H

#include <stdint.h>

enum gate_verdict { GATE_WAIT, GATE_PASS, GATE_FAIL };

/* "wait", "pass", "fail" */
const char *gate_verdict_name(enum gate_verdict v);

/* The z for a one-sided level alpha in (0, 0.5): the normal quantile 1 - alpha. */
double gate_z_critical(double alpha);

/* The verdict; *z gets the statistic (0 when undefined: no hits or all hits). */
enum gate_verdict gate_online(int64_t x1, int64_t n1, int64_t x0, int64_t n0,
			      int64_t min_impressions, double alpha, double *z);

#endif
