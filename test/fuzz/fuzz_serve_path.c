/*
 * fuzz_serve_path.c — libFuzzer target for ml-serve's request-target
 * handling: the route matcher (match_path, static in tools/ml-serve/routes.c,
 * reached by including that file here, which leaves routes.c unchanged and
 * links the tool's other objects), ids in paths (path_id), integer query
 * parameters (query_int) and the search text (mg_get_var + utf8_count, as
 * rec_search reads it).
 *
 * Input: the decoded path (what civetweb puts in local_uri), then optionally
 * a '?' and the raw query string. A matched route with an {id} must point
 * into the path; path_id's verdict must agree with a reference; query_int's
 * value must be in range.
 */
#include "../../tools/ml-serve/routes.c"

#include <stdlib.h>

#include "../../tools/ml-serve/body.h"
#include "fuzz_check.h"
#include "tsv.h"

/* 1: canonical decimal in 1..INT32_MAX; 0: some other integer; -1: not one. */
static int ref_path_id(const char *s, size_t n, int64_t *id)
{
	size_t i = n > 0 && s[0] == '-' ? 1 : 0;
	if (i == n)
		return -1;
	long double v = 0;
	for (size_t j = i; j < n; j++) {
		if (s[j] < '0' || s[j] > '9')
			return -1;
		v = v * 10 + (s[j] - '0');
	}
	if (i || v < 1 || v > INT32_MAX)
		return 0;
	*id = (int64_t)v;
	return 1;
}

static void query(const char *qs)
{
	struct mg_request_info ri;
	memset(&ri, 0, sizeof ri);
	ri.query_string = qs;
	struct req rq = {.ri = &ri};
	int64_t v = -1;
	int rc = query_int(&rq, "k", 1, 100, 10, &v);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 1)
		FUZZ_CHECK(v == 10);
	if (rc == 0)
		FUZZ_CHECK(v >= 1 && v <= 100);
	rc = query_int(&rq, "limit", 1, 50, 10, &v);
	if (rc == 0)
		FUZZ_CHECK(v >= 1 && v <= 50);
	if (!qs)
		return;
	char q[512];
	int n = mg_get_var(qs, strlen(qs), "q", q, sizeof q);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n < sizeof q);
		size_t chars = 0;
		if ((size_t)n == strlen(q) && utf8_count(q, strlen(q), &chars) == 0)
			FUZZ_CHECK(chars <= (size_t)n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = fuzz_cstr(data, size);
	char *qs = strchr(path, '?');
	if (qs)
		*qs++ = '\0';
	struct match m;
	if (match_path(path, &m) == 0) {
		FUZZ_CHECK(m.route >= ROUTE_ROOT && m.route < ROUTE_UNMATCHED);
		FUZZ_CHECK(route_template(m.route) != NULL);
		FUZZ_CHECK(method_allowed(&m, METHOD_POST) != method_allowed(&m, METHOD_GET));
		if (m.id) {
			FUZZ_CHECK(m.id >= path && m.id + m.id_len <= path + strlen(path));
			int64_t got = 0, want = 0;
			int kind = path_id(m.id, m.id_len, &got);
			FUZZ_CHECK(kind == ref_path_id(m.id, m.id_len, &want));
			FUZZ_CHECK(got == want);
		}
	}
	/* path_id on the whole path too, as bytes that are not NUL-terminated. */
	int64_t g = 0, w = 0;
	FUZZ_CHECK(path_id((const char *)data, size, &g) == ref_path_id((const char *)data, size, &w));
	FUZZ_CHECK(g == w);
	query(qs);
	FUZZ_CHECK(method_parse(path) <= METHOD_OTHER);
	free(path);
	return 0;
}
