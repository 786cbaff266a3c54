/*
 * body.c — see body.h. The nesting depth is checked before jansson parses,
 * because jansson recurses once per level (its own limit is 2048 levels,
 * more than a 100 KiB worker stack holds).
 */
#include "body.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"
#include "tsv.h"

#define MAX_DEPTH 16

int content_type_is_json(const char *ct)
{
	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	const char *p = ct + 16;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	p++;
	while (*p == ' ')
		p++;
	/* The only parameter that makes sense is charset, and only UTF-8. */
	return *p == '\0' || strncasecmp(p, "charset=utf-8", 13) == 0 ||
	       strncasecmp(p, "charset=\"utf-8\"", 15) == 0;
}

int json_too_deep(const char *s, size_t len)
{
	int depth = 0, in_str = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > MAX_DEPTH)
				return 1;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

void new_user_free(struct new_user *nu)
{
	free(nu->movie_ids);
	free(nu->ratings);
	nu->movie_ids = NULL;
	nu->ratings = NULL;
	nu->n = 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

#define FAIL(...) do { snprintf(msg, msg_len, __VA_ARGS__); goto fail; } while (0)

int body_parse_new_user(const char *text, size_t len, struct new_user *nu, char *msg,
			size_t msg_len)
{
	json_t *root = NULL;
	int64_t *sorted = NULL;
	memset(nu, 0, sizeof *nu);
	nu->k = 10;
	if (json_too_deep(text, len))
		FAIL("the JSON body is nested more deeply than its schema");
	json_error_t je;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		FAIL("the body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
		     je.column);
	if (!json_is_object(root))
		FAIL("the body must be a JSON object {\"ratings\": [...], \"k\": 10}");
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "ratings") != 0 && strcmp(key, "k") != 0)
			FAIL("unknown field in the body; expected \"ratings\" and \"k\"");
	}
	json_t *k = json_object_get(root, "k");
	if (k) {
		if (!json_is_integer(k) || json_integer_value(k) < 1 ||
		    json_integer_value(k) > MAX_K)
			FAIL("k must be an integer from 1 to 100");
		nu->k = (int)json_integer_value(k);
	}
	json_t *list = json_object_get(root, "ratings");
	if (!json_is_array(list))
		FAIL("ratings is required: a list of {\"movie_id\", \"rating\"}");
	size_t n = json_array_size(list);
	if (n == 0)
		FAIL("ratings must not be empty: rate at least one movie");
	if (n > MAX_RATINGS)
		FAIL("ratings has %zu entries; give at most %d", n, MAX_RATINGS);
	nu->movie_ids = calloc(n, sizeof *nu->movie_ids);
	nu->ratings = calloc(n, sizeof *nu->ratings);
	sorted = calloc(n, sizeof *sorted);
	if (!nu->movie_ids || !nu->ratings || !sorted)
		FAIL("out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(list, i);
		if (!json_is_object(r))
			FAIL("ratings[%zu] must be an object {\"movie_id\", \"rating\"}", i);
		json_object_foreach(r, key, v) {
			if (strcmp(key, "movie_id") != 0 && strcmp(key, "rating") != 0)
				FAIL("ratings[%zu] has an unknown field", i);
		}
		json_t *m = json_object_get(r, "movie_id"), *s = json_object_get(r, "rating");
		if (!json_is_integer(m) || json_integer_value(m) < 1 ||
		    json_integer_value(m) > INT32_MAX)
			FAIL("ratings[%zu].movie_id must be a positive integer movie id", i);
		if (!json_is_number(s) || !rating_on_scale(json_number_value(s)))
			FAIL("ratings[%zu].rating must be a number from 0.5 to 5 in steps of 0.5", i);
		nu->movie_ids[i] = sorted[i] = json_integer_value(m);
		nu->ratings[i] = json_number_value(s);
	}
	qsort(sorted, n, sizeof *sorted, cmp_i64);
	for (size_t i = 1; i < n; i++)
		if (sorted[i] == sorted[i - 1])
			FAIL("movie %lld is rated more than once; rate each movie once",
			     (long long)sorted[i]);
	nu->n = n;
	free(sorted);
	json_decref(root);
	return 0;
fail:
	free(sorted);
	json_decref(root);
	new_user_free(nu);
	return 422;
}

int body_read_json(struct req *rq, char **text, size_t *len, char *msg, size_t msg_len)
{
	*text = NULL;
	*len = 0;
	if (!content_type_is_json(mg_get_header(rq->conn, "Content-Type"))) {
		snprintf(msg, msg_len, "the body must be JSON: send Content-Type: application/json");
		return 415;
	}
	size_t max = rq->app->cfg.max_body;
	int status = read_body(rq, max, text, len);
	if (status == 413)
		snprintf(msg, msg_len, "request body exceeds %zu bytes", max);
	else if (status)
		snprintf(msg, msg_len, "the request body could not be read");
	return status;
}
