/*
 * live.h — the series of the living-data loop, beside prom.h's registry
 * (and rendered at its end): feedback taken, impressions recorded and
 * dropped, answers per arm, the online evaluation's gauges and the drift
 * gauges from the poll thread's periodic aggregate.
 *
 * lensflow_feedback_events_total{outcome="accepted|duplicate"},
 * lensflow_feedback_rejected_requests_total, lensflow_impressions_total{arm},
 * lensflow_impressions_dropped_total, lensflow_impressions_written_total,
 * lensflow_challenger_share, lensflow_serving_challenger_version,
 * lensflow_online_hit_rate{arm}, lensflow_online_impressions{arm}.
 *
 * Ownership: all state is static; the counters are atomics and the gauges are
 * set whole under a mutex by the one thread that computes them.
 */
#ifndef ML_SERVE_LIVE_H
#define ML_SERVE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store_impressions.h"

enum feedback_outcome { FEEDBACK_ACCEPTED, FEEDBACK_DUPLICATE, FEEDBACK_REJECTED,
			FEEDBACK_COUNT };

/* Events accepted or duplicate (n of them), or one rejected request. */
void prom_feedback(enum feedback_outcome o, size_t n);
/* An answer given from arm a and queued for the impressions table (or not). */
void prom_impression(enum arm a, int queued);
/* n impressions written by the flush thread, or lost with a failed flush. */
void prom_impressions_written(size_t n);
void prom_impressions_lost(size_t n);
/* The challenger served now (0: none) and its share. */
void prom_set_arms(int challenger, double share);

/* The online evaluation's window, per arm (set by the poll thread). */
struct online_arm {
	int version;           /* 0: no such arm served in the window */
	int64_t impressions;   /* ranked answers given in the window */
	int64_t hits;          /* of them, answers with a movie the user then rated */
};
void prom_set_online(const struct online_arm arms[ARM_COUNT], double window_s);

/* A GET /recommendations/{user_id} for a user the served sets know (or not). */
void prom_user_request(int known);
/* The drift aggregate (lib/store_online.h), set by the poll thread. */
struct drift_row;
void prom_set_drift(const struct drift_row *d);

void live_render(struct buf *b);

#endif
