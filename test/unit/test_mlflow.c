/*
 * test_mlflow.c — lib/mlflow's and lib/http's parsing of MLflow's answers,
 * with canned JSON: error bodies, missing fields, wrong types. Parsing only;
 * the REST behaviour is tested against a real server in
 * test/bats/ml-mlflow-log.bats.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "mlflow.h"
#include "tap.h"

static json_t *J(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	if (!j) {
		printf("# bad canned JSON: %s\n", text);
		abort();
	}
	return j;
}

TEST(error_body_mlflow)
{
	char code[HTTP_ERROR_CODE_MAX], msg[100];
	const char *b = "{\"error_code\": \"RESOURCE_DOES_NOT_EXIST\", \"message\": \"Could not "
			"find experiment with name 'x'\", \"sqlstate\": \"KAM00\"}";
	http_parse_error_body(b, strlen(b), code, msg, sizeof msg);
	CHECK(strcmp(code, "RESOURCE_DOES_NOT_EXIST") == 0);
	CHECK(strcmp(msg, "Could not find experiment with name 'x'") == 0);
}

TEST(error_body_not_json)
{
	char code[HTTP_ERROR_CODE_MAX], msg[16];
	const char *b = "<html>\r\nBad\tGateway and more text";
	http_parse_error_body(b, strlen(b), code, msg, sizeof msg);
	CHECK(code[0] == '\0');
	CHECK(strcmp(msg, "<html>  Bad Gat") == 0); /* truncated, control bytes blanked */
	http_parse_error_body(NULL, 0, code, msg, sizeof msg);
	CHECK(code[0] == '\0' && msg[0] == '\0');
}

TEST(error_body_wrong_types)
{
	char code[HTTP_ERROR_CODE_MAX], msg[64];
	const char *b = "{\"error_code\": 5, \"message\": [\"x\"]}";
	http_parse_error_body(b, strlen(b), code, msg, sizeof msg);
	CHECK(code[0] == '\0');
	CHECK(strcmp(msg, b) == 0); /* shown raw rather than lost */
	const char *c = "{\"error_code\": \"BAD_REQUEST\"}";
	http_parse_error_body(c, strlen(c), code, msg, sizeof msg);
	CHECK(strcmp(code, "BAD_REQUEST") == 0 && msg[0] == '\0');
}

TEST(experiment_id)
{
	lf_error err = {0};
	char *id = NULL;
	json_t *a = J("{\"experiment\": {\"experiment_id\": \"7\", \"name\": \"x\"}}");
	CHECK(mlflow_parse_experiment_id(a, "get", &id, &err) == 0);
	CHECK(strcmp(id, "7") == 0);
	free(id);
	json_decref(a);
	a = J("{\"experiment_id\": \"8\"}"); /* experiments/create's answer */
	CHECK(mlflow_parse_experiment_id(a, "create", &id, &err) == 0);
	CHECK(strcmp(id, "8") == 0);
	free(id);
	json_decref(a);
	a = J("{\"experiment\": {\"experiment_id\": 9}}");
	CHECK(mlflow_parse_experiment_id(a, "get", &id, &err) == -1);
	CHECK_EQ_INT(err.code, EX_PROTOCOL);
	CHECK(strstr(err.msg, "experiment_id") != NULL);
	json_decref(a);
}

TEST(run_answer)
{
	lf_error err = {0};
	mlflow_run r;
	json_t *a = J("{\"run\": {\"info\": {\"run_id\": \"abc\", \"experiment_id\": \"1\", "
		      "\"artifact_uri\": \"mlflow-artifacts:/1/abc/artifacts\"}, \"data\": {}}}");
	CHECK(mlflow_parse_run(a, &r, &err) == 0);
	CHECK(strcmp(r.run_id, "abc") == 0 && strcmp(r.experiment_id, "1") == 0);
	CHECK(strcmp(r.artifact_uri, "mlflow-artifacts:/1/abc/artifacts") == 0);
	mlflow_run_free(&r);
	json_decref(a);
	const char *bad[] = {
		"{}",
		"{\"run\": []}",
		"{\"run\": {\"info\": {\"run_id\": \"abc\", \"experiment_id\": \"1\"}}}",
		"{\"run\": {\"info\": {\"run_id\": null, \"experiment_id\": \"1\", "
		"\"artifact_uri\": \"x\"}}}",
		"{\"run\": {\"info\": {\"run_id\": \"../x\", \"experiment_id\": \"1\", "
		"\"artifact_uri\": \"x\"}}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		a = J(bad[i]);
		err.code = 0;
		int rc = mlflow_parse_run(a, &r, &err);
		json_decref(a);
		CHECK(rc == -1);
		CHECK_EQ_INT(err.code, EX_PROTOCOL);
		CHECK(r.run_id == NULL && r.artifact_uri == NULL);
	}
}

TEST(version_answer)
{
	lf_error err = {0};
	mlflow_version v;
	json_t *a = J("{\"model_version\": {\"name\": \"m\", \"version\": \"12\", \"run_id\": "
		      "\"r1\", \"source\": \"mlflow-artifacts:/1/r1/artifacts/model\"}}");
	CHECK(mlflow_parse_version(a, &v, &err) == 0);
	CHECK(strcmp(v.version, "12") == 0 && strcmp(v.run_id, "r1") == 0);
	mlflow_version_free(&v);
	json_decref(a);
	a = J("{\"model_version\": {\"name\": \"m\", \"version\": \"3\"}}"); /* no run: "" */
	CHECK(mlflow_parse_version(a, &v, &err) == 0);
	CHECK(strcmp(v.run_id, "") == 0 && strcmp(v.source, "") == 0);
	mlflow_version_free(&v);
	json_decref(a);
	const char *bad[] = {
		"{\"registered_model\": {}}",
		"{\"model_version\": {\"name\": \"m\", \"version\": 3}}",
		"{\"model_version\": {\"name\": \"m\", \"version\": \"03\"}}",
		"{\"model_version\": {\"name\": \"m\", \"version\": \"1; DROP\"}}",
		"{\"model_version\": {\"name\": \"m\", \"version\": \"1234567890\"}}",
		"{\"model_version\": {\"name\": \"m\", \"version\": \"1\", \"run_id\": 5}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		a = J(bad[i]);
		int rc = mlflow_parse_version(a, &v, &err);
		json_decref(a);
		CHECK(rc == -1);
		CHECK_EQ_INT(err.code, EX_PROTOCOL);
		CHECK(v.version == NULL);
	}
}

TEST(metrics_answer)
{
	lf_error err = {0};
	mlflow_metrics ms;
	double x;
	json_t *a = J("{\"run\": {\"data\": {\"metrics\": [{\"key\": \"ndcg_at_10\", \"value\": "
		      "0.25, \"step\": 0}, {\"key\": \"n\", \"value\": 3}, {\"key\": \"bad\", "
		      "\"value\": \"NaN\"}]}}}");
	CHECK(mlflow_parse_metrics(a, &ms, &err) == 0);
	json_decref(a);
	CHECK_EQ_INT(ms.n, 3);
	CHECK(mlflow_metrics_get(&ms, "ndcg_at_10", &x) == 0);
	CHECK_NEAR(x, 0.25, 0);
	CHECK(mlflow_metrics_get(&ms, "n", &x) == 0 && x == 3.0); /* an integer is a number */
	CHECK(mlflow_metrics_get(&ms, "bad", &x) == 0 && isnan(x));
	CHECK(mlflow_metrics_get(&ms, "absent", &x) == -1);
	mlflow_metrics_free(&ms);
	a = J("{\"run\": {\"info\": {}}}"); /* proto3 JSON omits an empty list */
	CHECK(mlflow_parse_metrics(a, &ms, &err) == 0 && ms.n == 0);
	json_decref(a);
	const char *bad[] = {
		"{\"nothing\": 1}",
		"{\"run\": {\"data\": {\"metrics\": {}}}}",
		"{\"run\": {\"data\": {\"metrics\": [{\"key\": \"a\", \"value\": \"0.5\"}]}}}",
		"{\"run\": {\"data\": {\"metrics\": [{\"key\": 1, \"value\": 0.5}]}}}",
		"{\"run\": {\"data\": {\"metrics\": [{\"key\": \"a\"}]}}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		a = J(bad[i]);
		int rc = mlflow_parse_metrics(a, &ms, &err);
		json_decref(a);
		CHECK(rc == -1);
		CHECK_EQ_INT(err.code, EX_PROTOCOL);
		CHECK(ms.n == 0 && ms.items == NULL);
	}
}

TEST(model_tag_answer)
{
	lf_error err = {0};
	char *v = NULL;
	json_t *a = J("{\"registered_model\": {\"name\": \"m\", \"tags\": [{\"key\": \"a\", "
		      "\"value\": \"1\"}, {\"key\": \"h\", \"value\": \"[]\"}]}}");
	CHECK(mlflow_parse_model_tag(a, "h", &v, &err) == 0);
	CHECK(strcmp(v, "[]") == 0);
	free(v);
	CHECK(mlflow_parse_model_tag(a, "zz", &v, &err) == 1 && v == NULL);
	json_decref(a);
	a = J("{\"registered_model\": {\"name\": \"m\"}}");
	CHECK(mlflow_parse_model_tag(a, "h", &v, &err) == 1);
	json_decref(a);
	a = J("{\"registered_model\": {\"tags\": [{\"value\": \"x\"}]}}");
	CHECK(mlflow_parse_model_tag(a, "h", &v, &err) == -1);
	CHECK_EQ_INT(err.code, EX_PROTOCOL);
	json_decref(a);
	a = J("{\"registered_model\": {\"tags\": [{\"key\": \"h\", \"value\": 2}]}}");
	CHECK(mlflow_parse_model_tag(a, "h", &v, &err) == -1);
	json_decref(a);
}

TEST(model_alias_answer)
{
	lf_error err = {0};
	char *v = NULL;
	json_t *a =
		J("{\"registered_model\": {\"name\": \"m\", \"aliases\": [{\"alias\": "
		  "\"old\", \"version\": \"1\"}, {\"alias\": \"champion\", \"version\": \"4\"}]}}");
	CHECK(mlflow_parse_model_alias(a, "champion", &v, &err) == 0);
	CHECK(strcmp(v, "4") == 0);
	free(v);
	CHECK(mlflow_parse_model_alias(a, "other", &v, &err) == 1 && v == NULL);
	json_decref(a);
	a = J("{\"registered_model\": {\"name\": \"m\"}}"); /* no aliases at all */
	CHECK(mlflow_parse_model_alias(a, "champion", &v, &err) == 1);
	json_decref(a);
	a = J("{\"registered_model\": {\"aliases\": [{\"alias\": \"champion\", \"version\": 4}]}}");
	CHECK(mlflow_parse_model_alias(a, "champion", &v, &err) == -1);
	CHECK_EQ_INT(err.code, EX_PROTOCOL);
	json_decref(a);
	a = J("{\"model_version\": {}}");
	CHECK(mlflow_parse_model_alias(a, "champion", &v, &err) == -1);
	json_decref(a);
}

TEST(artifact_path)
{
	lf_error err = {0};
	char *p = NULL;
	CHECK(mlflow_artifact_path("mlflow-artifacts:/1/abc/artifacts", &p, &err) == 0);
	CHECK(strcmp(p, "1/abc/artifacts") == 0);
	free(p);
	CHECK(mlflow_artifact_path("mlflow-artifacts://host:5000/2/r/artifacts/", &p, &err) == 0);
	CHECK(strcmp(p, "2/r/artifacts") == 0);
	free(p);
	CHECK(mlflow_artifact_path("file:///tmp/mlruns/1/abc/artifacts", &p, &err) == -1);
	CHECK_EQ_INT(err.code, EX_UNAVAILABLE);
	CHECK(mlflow_artifact_path("mlflow-artifacts:/1/../x", &p, &err) == -1);
	CHECK(mlflow_artifact_path("mlflow-artifacts:", &p, &err) == -1);
	CHECK(p == NULL);
}

TEST(key_rules)
{
	CHECK(mlflow_key_valid("ndcg_at_10"));
	CHECK(mlflow_key_valid("train/loss"));
	CHECK(mlflow_key_valid("mlflow.source.git.commit"));
	CHECK(mlflow_key_valid("a b:c-d"));
	CHECK(!mlflow_key_valid(""));
	CHECK(!mlflow_key_valid("ndcg@10"));
	CHECK(!mlflow_key_valid("/abs"));
	CHECK(!mlflow_key_valid("a//b"));
	CHECK(!mlflow_key_valid("a/"));
	CHECK(!mlflow_key_valid("a/../b"));
	CHECK(!mlflow_key_valid("./a"));
	CHECK(!mlflow_key_valid("tab\there"));
	char long_key[260];
	memset(long_key, 'k', 251);
	long_key[251] = '\0';
	CHECK(!mlflow_key_valid(long_key));
	long_key[250] = '\0';
	CHECK(mlflow_key_valid(long_key));
}

TEST(escape)
{
	char *e = http_escape("a b/c&d=é~");
	CHECK(e && strcmp(e, "a%20b%2Fc%26d%3D%C3%A9~") == 0);
	free(e);
}

TEST(open_rejects)
{
	lf_error err = {0};
	http_client *c = NULL;
	CHECK(http_open(&c, "ftp://x", 5, &err) == -1 && c == NULL);
	CHECK_EQ_INT(err.code, EX_USAGE);
	CHECK(http_open(&c, "http://x/?q", 5, &err) == -1);
	CHECK(http_open(&c, "http://127.0.0.1:5000//", 5, &err) == 0);
	CHECK(strcmp(http_base_url(c), "http://127.0.0.1:5000") == 0);
	http_free(c);
}

int main(void)
{
	RUN(error_body_mlflow);
	RUN(error_body_not_json);
	RUN(error_body_wrong_types);
	RUN(experiment_id);
	RUN(run_answer);
	RUN(version_answer);
	RUN(metrics_answer);
	RUN(model_tag_answer);
	RUN(model_alias_answer);
	RUN(artifact_path);
	RUN(key_rules);
	RUN(escape);
	RUN(open_rejects);
	return tap_done();
}
