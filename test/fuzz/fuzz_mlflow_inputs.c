/*
 * fuzz_mlflow_inputs.c — libFuzzer target for ml-mlflow-log's local inputs
 * (tools/ml-mlflow-log/inputs.c, linked from the tool's own object): the
 * params TSV and the losses TSV, both from the same bytes. Accepted params
 * have valid, unique keys; accepted losses valid keys and finite values.
 */
#include <math.h>
#include <string.h>

#include "../../tools/ml-mlflow-log/inputs.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lf_error err = {0};
	kvlist kv = {0};
	if (params_parse((const char *)data, size, "params.tsv", &kv, &err) == 0) {
		for (size_t i = 0; i < kv.n; i++) {
			FUZZ_CHECK(mlflow_key_valid(kv.items[i].key));
			FUZZ_CHECK(strlen(kv.items[i].value) <= MLFLOW_PARAM_VALUE_MAX);
			FUZZ_CHECK(kvlist_get(&kv, kv.items[i].key) == kv.items[i].value);
		}
	} else {
		FUZZ_CHECK(err.msg[0] != '\0');
	}
	kvlist_free(&kv);

	steplist sl = {0};
	memset(&err, 0, sizeof err);
	if (losses_parse((const char *)data, size, "losses.tsv", 1700000000000, &sl, &err) == 0) {
		for (size_t i = 0; i < sl.n; i++) {
			FUZZ_CHECK(mlflow_key_valid(sl.items[i].key));
			FUZZ_CHECK(isfinite(sl.items[i].value));
			FUZZ_CHECK(sl.items[i].timestamp_ms == 1700000000000);
		}
	} else {
		FUZZ_CHECK(err.msg[0] != '\0');
	}
	steplist_free(&sl);
	return 0;
}
