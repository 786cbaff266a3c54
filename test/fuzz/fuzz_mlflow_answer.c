/*
 * fuzz_mlflow_answer.c — libFuzzer target for the MLflow client's handling
 * of server answers: the bytes are what an MLflow server sent, parsed the
 * way lib/http.c does (json_loadb with JSON_REJECT_DUPLICATES), then handed
 * to every answer parser of lib/mlflow_parse.c (experiment id, run, model
 * version, run metrics, alias, model tag). A champion-history tag found in
 * the answer goes on to ml-mlflow-log's history_parse, as --promote and
 * --rollback do, and a parsed history must dump and parse back the same.
 * The same bytes are also an error body (http_parse_error_body) and an
 * artifact URI (mlflow_artifact_path) and a key (mlflow_key_valid).
 */
#include <math.h>
#include <string.h>

#include "../../tools/ml-mlflow-log/history.h"
#include "fuzz_check.h"
#include "http.h"
#include "mlflow.h"

static void check_history(const char *text)
{
	history h = {0};
	lf_error err = {0};
	if (history_parse(text, &h, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0');
		history_free(&h);
		return;
	}
	char *dump = NULL;
	/* What was read must be writable again: --promote appends and dumps it. */
	if (history_dump(&h, &dump, &err) < 0)
		fuzz_fail("a parsed history cannot be dumped", err.msg);
	{
		history again = {0};
		if (history_parse(dump, &again, &err) < 0)
			fuzz_fail("a dumped history does not parse again", err.msg);
		size_t from = h.n > HISTORY_KEEP ? h.n - HISTORY_KEEP : 0;
		FUZZ_CHECK(again.n == h.n - from);
		for (size_t i = 0; i < again.n; i++) {
			FUZZ_CHECK(strcmp(again.items[i].to, h.items[from + i].to) == 0);
			FUZZ_CHECK(strcmp(again.items[i].from, h.items[from + i].from) == 0);
		}
		history_free(&again);
		free(dump);
	}
	char target[16];
	if (h.n > 0)
		history_rollback_target(&h, h.items[h.n - 1].to, target);
	history_free(&h);
}

static void answers(const json_t *j)
{
	lf_error err = {0};
	char *s = NULL;
	if (mlflow_parse_experiment_id(j, "experiments/get-by-name", &s, &err) == 0)
		FUZZ_CHECK(s != NULL);
	free(s);
	s = NULL;

	mlflow_run run = {0};
	if (mlflow_parse_run(j, &run, &err) == 0)
		FUZZ_CHECK(run.run_id && run.experiment_id);
	mlflow_run_free(&run);

	mlflow_version v = {0};
	if (mlflow_parse_version(j, &v, &err) == 0)
		FUZZ_CHECK(v.version != NULL);
	mlflow_version_free(&v);

	mlflow_metrics ms = {0};
	if (mlflow_parse_metrics(j, &ms, &err) == 0) {
		for (size_t i = 0; i < ms.n; i++) {
			double x;
			FUZZ_CHECK(ms.items[i].key != NULL);
			FUZZ_CHECK(mlflow_metrics_get(&ms, ms.items[i].key, &x) == 0);
		}
	}
	mlflow_metrics_free(&ms);

	int rc = mlflow_parse_model_alias(j, "champion", &s, &err);
	if (rc == 0)
		FUZZ_CHECK(s != NULL);
	free(s);
	s = NULL;

	rc = mlflow_parse_model_tag(j, HISTORY_TAG, &s, &err);
	if (rc == 0) {
		FUZZ_CHECK(s != NULL);
		check_history(s);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j) {
		answers(j);
		json_decref(j);
	}
	char code[HTTP_ERROR_CODE_MAX], msg[256];
	http_parse_error_body((const char *)data, size, code, msg, sizeof msg);
	FUZZ_CHECK(memchr(code, 0, sizeof code) != NULL);
	FUZZ_CHECK(memchr(msg, 0, sizeof msg) != NULL);
	/* Both end up inside a one-line error message: no control characters. */
	for (const char *p = code; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	for (const char *p = msg; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);

	char *text = fuzz_cstr(data, size);
	char *path = NULL;
	lf_error err = {0};
	if (mlflow_artifact_path(text, &path, &err) == 0)
		FUZZ_CHECK(path != NULL && strlen(path) < size);
	free(path);
	if (mlflow_key_valid(text))
		FUZZ_CHECK(strlen(text) >= 1 && strlen(text) <= MLFLOW_KEY_MAX);
	if (size < 4096)
		check_history(text);
	free(text);
	return 0;
}
