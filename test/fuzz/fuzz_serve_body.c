/*
 * fuzz_serve_body.c — libFuzzer target for the body of POST /recommendations
 * (tools/ml-serve/body.c, body_parse_new_user, linked from ml-serve's own
 * object), and for the Content-Type check on the same bytes. An accepted body
 * must give 1..MAX_RATINGS ratings of distinct movies in 1..INT32_MAX with
 * stars 1..5 and k in 1..100; a refused one is 422 with a reason and leaves
 * nothing allocated.
 */
#include <string.h>

#include "../../tools/ml-serve/body.h"
#include "../../tools/ml-serve/serve.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct new_user nu;
	char msg[256] = "";
	int rc = body_parse_new_user((const char *)data, size, &nu, msg, sizeof msg);
	if (rc != 0) {
		FUZZ_CHECK(rc == 422);
		FUZZ_CHECK(msg[0] != '\0');
		FUZZ_CHECK(nu.n == 0 && nu.movie_ids == NULL && nu.ratings == NULL);
	} else {
		FUZZ_CHECK(nu.n >= 1 && nu.n <= MAX_RATINGS);
		FUZZ_CHECK(nu.k >= 1 && nu.k <= 100);
		for (size_t i = 0; i < nu.n; i++) {
			FUZZ_CHECK(nu.movie_ids[i] >= 1 && nu.movie_ids[i] <= INT32_MAX);
			FUZZ_CHECK(nu.ratings[i] >= 0.5 && nu.ratings[i] <= 5);
			FUZZ_CHECK(nu.ratings[i] * 2 == (double)(int)(nu.ratings[i] * 2));
			for (size_t j = 0; j < i && nu.n <= 64; j++)
				FUZZ_CHECK(nu.movie_ids[i] != nu.movie_ids[j]);
		}
		new_user_free(&nu);
	}
	/* The same bytes as a Content-Type header value (NUL-terminated, as civetweb gives it). */
	char *ct = fuzz_cstr(data, size > 200 ? 200 : size);
	int json = content_type_is_json(ct);
	if (json)
		FUZZ_CHECK(strcasestr(ct, "application/json") != NULL);
	free(ct);
	return 0;
}
