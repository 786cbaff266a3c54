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

/* Reads a JSON body (Content-Type application/json, at most --max-body bytes)
 * into a new NUL-terminated buffer the caller frees. Returns 0, or the HTTP
 * status to answer (400, 413, 415) with the reason in msg. */
int body_read_json(struct req *rq, char **text, size_t *len, char *msg, size_t msg_len);

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
