/*
 * feedback.h — POST /feedback: what users did with what they were served.
 * One event {"user_id", "movie_id", "rating", "timestamp"?, "request_id"?}
 * or {"events": [...]} with up to FEEDBACK_MAX_EVENTS; Bearer
 * $LENSFLOW_FEEDBACK_TOKEN; 202 {"accepted", "duplicates"} once the batch is
 * committed (lib/store_feedback.h), through connections of their own on
 * --feedback-db.
 *
 * Ownership: a feedback_batch owns its events and the request ids they point
 * at (inside the parsed JSON it keeps); feedback_batch_free releases both.
 */
#ifndef ML_SERVE_FEEDBACK_H
#define ML_SERVE_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "reply.h"
#include "store_feedback.h"

struct feedback_batch {
	size_t n;
	struct feedback_event *ev;
	int single;       /* the body was one event, not {"events": [...]} */
	void *json;       /* the parsed body (json_t *): request ids point into it */
};

/* Checks the body text (no I/O); now is the time of events without one.
 * Returns 0 with b filled, or 422 with msg naming the first bad event. */
int feedback_parse(const char *text, size_t len, int64_t now, struct feedback_batch *b,
		   char *msg, size_t msg_len);
void feedback_batch_free(struct feedback_batch *b);

/* The handler: POST /feedback. */
int op_feedback(struct req *rq);

#endif
