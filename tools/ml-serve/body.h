/*
 * body.h — the request body of POST /recommendations, checked field by
 * field: {"ratings": [{"movie_id": int, "rating": 0.5..5 in steps of 0.5}, ...],
 * "k": int} (a rating as a JSON integer or real: 4, 4.0, 3.5).
 * Nothing else is accepted: unknown fields, wrong types, repeated movies,
 * more than MAX_RATINGS ratings, nesting deeper than the schema's, JSON that
 * is not UTF-8 or not JSON at all.
 *
 * Ownership: new_user's arrays are malloc'ed; new_user_free releases them.
 */
#ifndef ML_SERVE_BODY_H
#define ML_SERVE_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "reply.h"

struct new_user {
	size_t n;
	int64_t *movie_ids;
	double *ratings; /* on the datasets' scale, 0.5..5 in steps of 0.5 */
	int k;
};

/* Reads and checks the body. Returns 0 with nu filled, or the HTTP status to
 * answer (400, 413, 415, 422) with the reason in msg. */
int body_new_user(struct req *rq, struct new_user *nu, char *msg, size_t msg_len);

/* Checks the body text itself (no I/O): 0 or 422 with msg. For unit tests too. */
int body_parse_new_user(const char *text, size_t len, struct new_user *nu, char *msg,
			size_t msg_len);

void new_user_free(struct new_user *nu);

/* 1 when JSON text nests deeper than any body ml-serve takes (checked before
 * jansson, which recurses once per level on the small worker stacks). */
int json_too_deep(const char *s, size_t len);

/* 1 when a Content-Type header value names JSON in UTF-8. */
int content_type_is_json(const char *ct);

#endif
