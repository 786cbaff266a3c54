/*
 * store_online.h — what the living-data loop reads back from the database:
 * the tables as TSV for `ml-fetch --source postgresql://… NAME`, and the
 * online evaluation's aggregate that ml-serve's gauges show.
 *
 * TSV (no header, one row a line):
 *   ratings      user_id movie_id rating timestamp — u.data's format: the
 *                catalogue's ratings with the feedback applied, the latest
 *                event per (user, movie) winning (feedback on a tie)
 *   feedback     user_id movie_id rating timestamp request_id ("" when none)
 *   impressions  request_id served_at(unix seconds, 6 decimals) user_id ("" for
 *                a new user) model_name model_version arm movie_ids(comma-separated)
 *
 * A hit (the definition ml-eval --online shares): an impression and a feedback
 * event of its user (same user_id, or the impression's request_id sent back
 * with the event) on one of the first k movies listed, rated at or after the
 * second it was served and at most window seconds after.
 *
 * Ownership: store_export returns a malloc'ed buffer the caller frees.
 */
#ifndef LENSFLOW_STORE_ONLINE_H
#define LENSFLOW_STORE_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "log.h"

/* 1 when name is one of ratings, feedback, impressions. */
int store_export_known(const char *name);

/* The table name as TSV into *out (*len bytes, NUL-terminated). -1 with err. */
int store_export(PGconn *c, const char *name, char **out, size_t *len, lf_error *err);

struct online_row {
	int version;
	int challenger;        /* 1: served as the challenger */
	int64_t impressions;   /* served in the window */
	int64_t hits;          /* of them, with a hit */
};

/* The aggregate over impressions of model served in the last window_s seconds,
 * per (version, arm), at most max rows into rows. Returns the row count or -1. */
int store_online_aggregate(PGconn *c, const char *model, double window_s, int k,
			   struct online_row *rows, int max, lf_error *err);

/* Drift under the served model, over the feedback of the last window_s seconds against
 * the catalogue's ratings (the training set's source): events, their mean rating (NaN when
 * none), the catalogue's mean rating, and the population stability index of movie
 * popularity, sum over movies of (a - e) ln(a / e) with a, e each movie's share of the
 * window's events and of the catalogue's ratings, both + 1e-4 so that no share is 0
 * (0 when there is no feedback). */
struct drift_row {
	int64_t events;
	double feedback_mean, training_mean, psi;
};
int store_drift(PGconn *c, double window_s, struct drift_row *out, lf_error *err);

#endif
