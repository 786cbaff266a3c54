/*
 * reply.c — see reply.h.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Drain at most this much of a refused body before answering, so that a
 * client still sending reads the 413 instead of a reset connection. */
#define DRAIN_MAX (64u << 20)

static const char *error_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 408: return "request_timeout";
	case 409: return "conflict";
	case 413: return "payload_too_large";
	case 415: return "unsupported_media_type";
	case 422: return "invalid_request";
	case 503: return "unavailable";
	default: return status >= 500 ? "internal_error" : "error";
	}
}

int reply_raw(struct req *rq, int status, const char *ctype, const char *body, size_t len)
{
	char n[24];
	snprintf(n, sizeof n, "%zu", len);
	rq->status = status;
	mg_response_header_start(rq->conn, status);
	mg_response_header_add(rq->conn, "Content-Type", ctype, -1);
	mg_response_header_add(rq->conn, "Content-Length", n, -1);
	mg_response_header_add(rq->conn, "Cache-Control", "no-store", -1);
	if (rq->hdr_name)
		mg_response_header_add(rq->conn, rq->hdr_name, rq->hdr_value, -1);
	rq->hdr_name = rq->hdr_value = NULL;
	mg_response_header_send(rq->conn);
	const char *method = rq->ri ? rq->ri->request_method : NULL;
	if (len && !(method && strcmp(method, "HEAD") == 0))
		mg_write(rq->conn, body, len);
	return status;
}

int reply_json(struct req *rq, int status, json_t *body)
{
	int digits = rq->real_digits > 0 && rq->real_digits <= 17 ? rq->real_digits : 17;
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(digits)) : NULL;
	json_decref(body);
	if (!text) {
		static const char oom[] =
			"{\"error\":\"internal_error\",\"message\":\"out of memory\"}";
		return reply_raw(rq, 500, "application/json", oom, sizeof oom - 1);
	}
	int rc = reply_raw(rq, status, "application/json", text, strlen(text));
	free(text);
	return rc;
}

int reply_error(struct req *rq, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Messages may quote client input: json_stringn refuses invalid UTF-8. */
	json_t *m = json_string(msg);
	if (!m)
		m = json_string("the request was refused (its text is not valid UTF-8)");
	return reply_json(rq, status, json_pack("{s:s, s:o}", "error", error_code(status),
						"message", m));
}

int reply_unavailable(struct req *rq, const char *message)
{
	rq->hdr_name = "Retry-After";
	rq->hdr_value = "5";
	return reply_error(rq, 503, "%s", message);
}

int query_int(const struct req *rq, const char *name, int64_t min, int64_t max, int64_t dflt,
	      int64_t *value)
{
	*value = dflt;
	const char *qs = rq->ri->query_string;
	if (!qs)
		return 1;
	char v[32];
	int n = mg_get_var(qs, strlen(qs), name, v, sizeof v);
	if (n == -1)
		return 1;
	if (n < 0 || (size_t)n != strlen(v)) /* too long, or a NUL inside */
		return -1;
	return parse_i64(v, min, max, value) == 0 ? 0 : -1;
}

int path_id(const char *seg, size_t len, int64_t *id)
{
	size_t i = len > 0 && seg[0] == '-' ? 1 : 0;
	if (i == len)
		return -1;
	for (size_t j = i; j < len; j++)
		if (seg[j] < '0' || seg[j] > '9')
			return -1;
	/* An integer: beyond int64 or outside 1..INT32_MAX, no such id exists. */
	int64_t v;
	if (parse_i64_n(seg, len, 1, INT32_MAX, &v) < 0)
		return 0;
	*id = v;
	return 1;
}

static void drain(struct req *rq)
{
	char *junk = malloc(16384);
	if (!junk)
		return;
	size_t total = 0;
	int n;
	while (total < DRAIN_MAX && (n = mg_read(rq->conn, junk, 16384)) > 0)
		total += (size_t)n;
	free(junk);
}

int read_body(struct req *rq, size_t max, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	long long declared = rq->ri->content_length;
	if (declared > (long long)max) {
		drain(rq);
		return 413;
	}
	char *b = malloc(max + 1);
	if (!b)
		return 503;
	size_t have = 0;
	for (;;) {
		if (have == max) { /* full: one byte more means too much */
			char extra;
			int n = mg_read(rq->conn, &extra, 1);
			if (n > 0) {
				free(b);
				drain(rq);
				return 413;
			}
			break;
		}
		int n = mg_read(rq->conn, b + have, max - have);
		if (n < 0) {
			free(b);
			return 400;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (declared >= 0 && (long long)have != declared) {
		free(b);
		return 400;
	}
	b[have] = '\0';
	*out = b;
	*len = have;
	return 0;
}
