/*
 * reply.h — what every handler needs from HTTP: the request context, JSON
 * answers and JSON errors with a Content-Length (keep-alive works, and
 * civetweb's own error pages, which need a large stack, are never used),
 * query parameters, ids in paths, and the request body read up to a limit.
 *
 * An answer leaves in one write (status line, headers, body): civetweb's
 * mg_response_header_* send every line separately, one system call each. The
 * headers are the ones mg_response_header_send wrote (Date, and Connection
 * as civetweb then decides it: see keep_alive in reply.c); civetweb learns
 * the status from the handler's return value, which is the status answered.
 *
 * Ownership: reply_json steals the reference to its body; read_body returns
 * a malloc'ed buffer the caller frees.
 */
#ifndef ML_SERVE_REPLY_H
#define ML_SERVE_REPLY_H

#include <civetweb.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "prom.h"

struct serve_app;

struct req {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	struct worker *w;
	struct serve_app *app;
	enum route_id route;
	enum method_id method;
	int status;                          /* what was answered; 0 before */
	int foldin;                          /* holds a place in the fold-in bulkhead */
	const char *hdr_name, *hdr_value;    /* one extra header for the next reply */
};

/* Answers status with header lines ("Name: value\r\n" each, Content-Length
 * among them) and the body, which a HEAD leaves out. Returns status. */
int reply_send(struct req *rq, int status, const char *headers, size_t headers_len,
	       const char *body, size_t len);
/* Content-Type ctype, Content-Length, Cache-Control: no-store and the extra
 * header of rq when set. */
int reply_raw(struct req *rq, int status, const char *ctype, const char *body, size_t len);
/* Serialises body (stolen) compactly, reals with 17 digits; 500 JSON when
 * that fails (body NULL: out of memory). */
int reply_json(struct req *rq, int status, json_t *body);
/* {"error": <code for status>, "message": <formatted>} */
int reply_error(struct req *rq, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 503 with Retry-After. */
int reply_unavailable(struct req *rq, const char *message);

/* Parameter `name` of the query string as an integer in [min, max].
 * Returns 1 when absent (value = dflt), 0 when valid, -1 when malformed or out of range. */
int query_int(const struct req *rq, const char *name, int64_t min, int64_t max, int64_t dflt,
	      int64_t *value);

/* An id from a path segment (not NUL-terminated, percent-decoded already):
 * 1 when it is a decimal integer in 1..INT32_MAX (*id set), 0 when it is an
 * integer outside that range (no such id can exist: 404), -1 when it is not
 * an integer (422). */
int path_id(const char *seg, size_t len, int64_t *id);

/* Reads the whole body into a new NUL-terminated buffer. Returns 0, or the
 * HTTP status to answer: 413 when it exceeds max (what was sent is drained
 * up to a bound, so that the client reads the answer), 400 when the client
 * stopped sending. */
int read_body(struct req *rq, size_t max, char **out, size_t *len);

#endif
