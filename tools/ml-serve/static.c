/*
 * static.c — see static.h.
 *
 * The files are pulled in by the assembler's .incbin, relative to the
 * directory make runs in (the repository root); the Makefile makes this
 * object depend on them.
 */
#include "static.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"

/* sym[] .. sym_end[]: the bytes of file, as read-only data. */
#define EMBED(sym, file)                                                                           \
	__asm__(".section .rodata\n"                                                               \
		".global " #sym "\n"                                                               \
		".type " #sym ", @object\n"                                                        \
		".balign 16\n" #sym ":\n"                                                          \
		".incbin \"" file "\"\n"                                                           \
		".global " #sym "_end\n" #sym "_end:\n"                                            \
		".byte 0\n"                                                                        \
		".size " #sym ", . - " #sym "\n"                                                   \
		".previous\n")

EMBED(mlserve_page_html, "tools/ml-serve/static/index.html");
EMBED(mlserve_page_css, "tools/ml-serve/static/app.css");
EMBED(mlserve_page_js, "tools/ml-serve/static/app.js");
EMBED(mlserve_page_icon, "tools/ml-serve/static/icon.svg");

extern const char mlserve_page_html[], mlserve_page_html_end[];
extern const char mlserve_page_css[], mlserve_page_css_end[];
extern const char mlserve_page_js[], mlserve_page_js_end[];
extern const char mlserve_page_icon[], mlserve_page_icon_end[];

/* Only the page's own origin: no inline script or style, no plugin, no frame
 * around it, forms post nowhere else. */
static const char CSP[] = "default-src 'self'; object-src 'none'; base-uri 'none'; "
			  "form-action 'self'; frame-ancestors 'none'";

struct asset {
	const char *path; /* under which the page asks for it */
	const char *ctype;
	const char *start, *end;
	char etag[20]; /* "<16 hex of SHA-256>" with its quotes */
};

static struct asset ASSETS[] = {
	{"/", "text/html; charset=utf-8", mlserve_page_html, mlserve_page_html_end, ""},
	{"/static/app.css", "text/css; charset=utf-8", mlserve_page_css, mlserve_page_css_end, ""},
	{"/static/app.js", "text/javascript; charset=utf-8", mlserve_page_js, mlserve_page_js_end,
	 ""},
	{"/static/icon.svg", "image/svg+xml", mlserve_page_icon, mlserve_page_icon_end, ""},
};
#define N_ASSETS (sizeof ASSETS / sizeof ASSETS[0])

static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void etags_compute(void)
{
	for (size_t i = 0; i < N_ASSETS; i++) {
		char hex[65];
		sha256_hex(ASSETS[i].start, (size_t)(ASSETS[i].end - ASSETS[i].start), hex);
		snprintf(ASSETS[i].etag, sizeof ASSETS[i].etag, "\"%.16s\"", hex);
	}
}

/* Does the If-None-Match list (`"a", W/"b"` or `*`) name this ETag? A weak
 * comparison, as RFC 9110 asks for If-None-Match. */
static int etag_matches(const char *list, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		size_t n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == elen && memcmp(p, etag, n) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

/* Is text/html among the media ranges of Accept, with a q other than 0? */
static int accepts_html(const char *accept)
{
	for (const char *p = accept; p && (p = strcasestr(p, "text/html")) != NULL; p += 9) {
		const char *end = p + strcspn(p, ",");
		int refused = 0;
		/* its parameters: ";q=0", "; q=0.0", ... */
		for (const char *s = memchr(p, ';', (size_t)(end - p)); s && s < end;
		     s = memchr(s + 1, ';', (size_t)(end - s - 1))) {
			const char *v = s + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
				refused = strtod(v + 2, NULL) <= 0.0;
		}
		if (!refused)
			return 1;
	}
	return 0;
}

static int send_asset(struct req *rq, const struct asset *a)
{
	const char *inm = mg_get_header(rq->conn, "If-None-Match");
	int status = inm && etag_matches(inm, a->etag) ? 304 : 200;
	size_t len = (size_t)(a->end - a->start);
	char h[1024];
	/* A 304 has no body; its Content-Length is the 200's (RFC 9110, 8.6), and
	 * keeps the connection alive. */
	int n = snprintf(h, sizeof h,
			 "%s%s%sContent-Length: %zu\r\nETag: %s\r\nCache-Control: no-cache\r\n"
			 "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n%s%s%s",
			 status == 200 ? "Content-Type: " : "", status == 200 ? a->ctype : "",
			 status == 200 ? "\r\n" : "", len, a->etag,
			 a == &ASSETS[0] ? "Content-Security-Policy: " : "",
			 a == &ASSETS[0] ? CSP : "", a == &ASSETS[0] ? "\r\nVary: Accept\r\n" : "");
	return reply_send(rq, status, h, n > 0 && (size_t)n < sizeof h ? (size_t)n : 0,
			  status == 200 ? a->start : NULL, len);
}

int static_serve(struct req *rq, const char *path)
{
	int is_root = strcmp(path, "/") == 0;
	if (!is_root && strncmp(path, "/static/", 8) != 0)
		return 0;
	int readonly = rq->method == METHOD_GET || rq->method == METHOD_HEAD;
	/* / for an API client (or another method) stays the API's answer. */
	if (is_root && (!readonly || !accepts_html(mg_get_header(rq->conn, "Accept"))))
		return 0;
	pthread_once(&etags_once, etags_compute);
	rq->route = ROUTE_ROOT;
	if (!readonly) {
		rq->hdr_name = "Allow";
		rq->hdr_value = "GET, HEAD";
		return reply_error(rq, 405, "the page's files accept only GET, HEAD");
	}
	for (size_t i = 0; i < N_ASSETS; i++)
		if (strcmp(path, ASSETS[i].path) == 0)
			return send_asset(rq, &ASSETS[i]);
	rq->route = ROUTE_UNMATCHED;
	return reply_error(rq, 404, "the page has no file %.60s", path + 8);
}
