/*
 * reply.c — see reply.h.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jsontext.h"
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

/* Would civetweb keep this connection alive? Its should_keep_alive() (1.15)
 * with keep-alive enabled (main.c) and nothing of civetweb's own forcing a
 * close, which holds while a request is answered: the client's Connection
 * header when there is one (civetweb matches an entry against "keep-alive"
 * case-insensitively over the entry's length, up to any '='), else HTTP/1.1.
 * civetweb decides the same way after the answer, so the Connection header
 * written here is what it then does. */
static int keep_alive(struct req *rq)
{
	const char *h = mg_get_header(rq->conn, "Connection");
	if (!h) {
		const char *v = rq->ri ? rq->ri->http_version : NULL;
		return v && strcmp(v, "1.1") == 0;
	}
	static const char KA[] = "keep-alive";
	const char *p = h;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *next = comma ? comma + 1 : p + n;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0) {
			const char *eq = memchr(p, '=', n);
			if (eq)
				n = (size_t)(eq - p);
			if (n <= sizeof KA - 1 ? strncasecmp(p, KA, n) == 0 : 0)
				return 1;
		}
		p = next;
	}
	return 0;
}

/* "Date: <IMF-fixdate>\r\n" for now, made once a second per thread. */
static const char *date_line(size_t *len)
{
	static _Thread_local time_t at = (time_t)-1;
	static _Thread_local char line[48];
	static _Thread_local size_t line_len;
	time_t now = time(NULL);
	if (now != at) {
		static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
		static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
						   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
		struct tm tm;
		gmtime_r(&now, &tm);
		int n = snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
				 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
				 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		line_len = n > 0 && (size_t)n < sizeof line ? (size_t)n : 0;
		at = now;
	}
	*len = line_len;
	return line;
}

/* Appends n bytes of s at p, when they fit before end; NULL once anything did not. */
static char *put(char *p, const char *end, const char *s, size_t n)
{
	if (!p || (size_t)(end - p) < n)
		return NULL;
	memcpy(p, s, n);
	return p + n;
}

static char *puts_(char *p, const char *end, const char *s)
{
	return put(p, end, s, strlen(s));
}

#define PUT_LIT(p, end, lit) put((p), (end), (lit), sizeof(lit) - 1)

int reply_send(struct req *rq, int status, const char *headers, size_t headers_len,
	       const char *body, size_t len)
{
	rq->status = status;
	if (rq->method == METHOD_HEAD || !body)
		len = 0;
	/* What civetweb's mg_response_header_send wrote, in its order: status
	 * line, the given headers, Date, Connection, blank line. */
	char small[2048];
	const char *end = small + sizeof small;
	char code[24];
	size_t date_len;
	const char *date = date_line(&date_len);
	char *p = PUT_LIT(small, end, "HTTP/");
	p = puts_(p, end, rq->ri && rq->ri->http_version ? rq->ri->http_version : "1.0");
	p = PUT_LIT(p, end, " ");
	p = put(p, end, code, json_int(code, status));
	p = PUT_LIT(p, end, " ");
	p = puts_(p, end, mg_get_response_code_text(rq->conn, status));
	p = PUT_LIT(p, end, "\r\n");
	p = put(p, end, headers, headers_len);
	p = put(p, end, date, date_len);
	p = keep_alive(rq) ? PUT_LIT(p, end, "Connection: keep-alive\r\n\r\n")
			   : PUT_LIT(p, end, "Connection: close\r\n\r\n");
	if (!p)
		return status; /* not with the headers ml-serve writes */
	size_t head = (size_t)(p - small);
	/* One write: small answers whole on the stack (civetweb's worker stacks
	 * are small), larger ones in one heap buffer; out of memory, two writes. */
	if (len <= (size_t)(end - p)) {
		if (len)
			memcpy(p, body, len);
		mg_write(rq->conn, small, head + len);
		return status;
	}
	char *out = malloc(head + len);
	if (!out) {
		mg_write(rq->conn, small, head);
		mg_write(rq->conn, body, len);
		return status;
	}
	memcpy(out, small, head);
	memcpy(out + head, body, len);
	mg_write(rq->conn, out, head + len);
	free(out);
	return status;
}

int reply_raw(struct req *rq, int status, const char *ctype, const char *body, size_t len)
{
	char headers[512], n[24];
	const char *end = headers + sizeof headers;
	char *p = PUT_LIT(headers, end, "Content-Type: ");
	p = puts_(p, end, ctype);
	p = PUT_LIT(p, end, "\r\nContent-Length: ");
	p = put(p, end, n, json_int(n, (int64_t)len));
	p = PUT_LIT(p, end, "\r\nCache-Control: no-store\r\n");
	if (rq->hdr_name) {
		p = puts_(p, end, rq->hdr_name);
		p = PUT_LIT(p, end, ": ");
		p = puts_(p, end, rq->hdr_value);
		p = PUT_LIT(p, end, "\r\n");
	}
	rq->hdr_name = rq->hdr_value = NULL;
	return reply_send(rq, status, headers, p ? (size_t)(p - headers) : 0, body, len);
}

int reply_json(struct req *rq, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
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
	/* The declared length (one byte more, to see a body longer than declared),
	 * else 16 KiB to start with, doubled as the body arrives, up to max. */
	size_t cap = declared >= 0 ? (size_t)declared + 1 : 16384;
	if (cap > max)
		cap = max;
	char *b = malloc(cap + 1);
	if (!b)
		return 503;
	size_t have = 0;
	for (;;) {
		if (have == cap && cap < max) {
			size_t grown = cap > max / 2 ? max : 2 * cap;
			char *nb = realloc(b, grown + 1);
			if (!nb) {
				free(b);
				drain(rq);
				return 503;
			}
			b = nb;
			cap = grown;
		}
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
		int n = mg_read(rq->conn, b + have, cap - have);
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
