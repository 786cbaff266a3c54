/*
 * store_feedback.h — the SQL of the `feedback` table (sql/schema.sql): what
 * POST /feedback stores, one statement per batch. The statement checks every
 * movie against the catalogue and inserts the batch only when all are known,
 * so a batch is stored whole or not at all; a repeated (user, movie, time) is
 * stored once (ON CONFLICT DO NOTHING). Run outside a transaction, the
 * statement has committed when store_feedback_insert returns 0.
 *
 * Ownership: events and their request ids are the caller's; nothing here
 * keeps a pointer after returning.
 */
#ifndef LENSFLOW_STORE_FEEDBACK_H
#define LENSFLOW_STORE_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "log.h"

/* The most events one call takes (POST /feedback's limit). */
#define FEEDBACK_MAX_EVENTS 1000
/* A request id is 1..64 of [A-Za-z0-9._:-] (checked by the caller). */
#define FEEDBACK_REQUEST_ID_MAX 64

struct feedback_event {
	int32_t user_id;          /* > 0 */
	int32_t movie_id;         /* > 0 */
	int half_stars;           /* the rating x 2: 1..10 */
	int64_t rated_at;         /* unix seconds */
	const char *request_id;   /* NULL: none */
};

/* The name under which store_feedback_prepare prepares the insert. */
#define FEEDBACK_STATEMENT "lf_feedback_insert"

/* Prepares the insert on c (once per connection). */
int store_feedback_prepare(PGconn *c, lf_error *err);

/* Stores n (1..FEEDBACK_MAX_EVENTS) events with the prepared statement.
 * Returns 0 with *accepted (new rows) and *duplicates (events already
 * stored, or repeated in the batch); 1 with *bad the index of the first event
 * whose movie is not in the catalogue (nothing stored); -1 with err
 * (EX_UNAVAILABLE when the database did not answer, else pg.h's codes). */
int store_feedback_insert(PGconn *c, const struct feedback_event *ev, size_t n,
			  size_t *accepted, size_t *duplicates, size_t *bad, lf_error *err);

#endif
