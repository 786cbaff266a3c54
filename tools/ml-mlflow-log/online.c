/*
 * online.c — ml-mlflow-log's online half: the TSV of `ml-eval --online`
 * (version, arm, metric, value) on stdin, logged onto each version's run as
 * online_<metric> (its "all" rows: the version over both arms; '@' as
 * '_at_'), or judged by the online gate (lib/online_gate.h): the challenger
 * rows of version M against the champion rows of the version served most as
 * the champion.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlog.h"
#include "online_gate.h"
#include "util.h"

#define MAX_ROWS 4096

struct orow {
	int version;
	char arm[12];
	char metric[48];
	double value;
};

static int read_rows(FILE *in, struct orow *rows, size_t *n, lf_error *err)
{
	char line[256];
	long no = 0;
	*n = 0;
	while (fgets(line, sizeof line, in)) {
		no++;
		line[strcspn(line, "\n")] = '\0';
		char *f[4], *save = NULL;
		int k = 0;
		for (char *t = strtok_r(line, "\t", &save); t && k < 4; t = strtok_r(NULL, "\t", &save))
			f[k++] = t;
		int64_t v;
		if (k != 4 || parse_i64(f[0], 1, INT32_MAX, &v) < 0 || strlen(f[1]) >= 12 ||
		    strlen(f[2]) >= 48 || parse_double(f[3], -1e300, 1e300, &rows[*n].value) < 0)
			return lf_fail(err, EX_DATAERR, "stdin:%ld: not a row of ml-eval --online "
				       "(version, arm, metric, value)", no);
		if (*n == MAX_ROWS)
			return lf_fail(err, EX_DATAERR, "stdin: more than %d rows", MAX_ROWS);
		rows[*n].version = (int)v;
		strcpy(rows[*n].arm, f[1]);
		strcpy(rows[*n].metric, f[2]);
		(*n)++;
	}
	if (ferror(in))
		return lf_fail(err, EX_IOERR, "stdin: read failed");
	return 0;
}

static int row_value(const struct orow *rows, size_t n, int version, const char *arm,
		     const char *prefix, double *value)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].version == version && strcmp(rows[i].arm, arm) == 0 &&
		    strncmp(rows[i].metric, prefix, strlen(prefix)) == 0) {
			*value = rows[i].value;
			return 0;
		}
	return -1;
}

int mlog_online_log(const mlog_opts *o, FILE *in, lf_error *err)
{
	struct orow *rows = calloc(MAX_ROWS, sizeof *rows);
	mlflow m = {0};
	size_t n = 0;
	int rc = -1;
	if (!rows) {
		lf_fail(err, EX_OSERR, "out of memory");
		goto out;
	}
	if (read_rows(in, rows, &n, err) < 0 || mlflow_open(&m, o->tracking_uri, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].arm, "all") != 0)
			continue;
		int first = 1;
		for (size_t j = 0; j < i; j++)
			first &= !(rows[j].version == rows[i].version && strcmp(rows[j].arm, "all") == 0);
		if (!first)
			continue;
		char ver[16];
		snprintf(ver, sizeof ver, "%d", rows[i].version);
		mlflow_version v = {0};
		int got = mlflow_version_get(&m, o->model_name, ver, &v, err);
		if (got == 1) { /* served once, since deleted from the registry: nothing to log onto */
			log_info("model %s has no version %s in the registry; its online metrics are "
				 "not logged", o->model_name, ver);
			continue;
		}
		if (got != 0 || !v.run_id || !v.run_id[0]) {
			if (got == 0)
				lf_fail(err, EX_DATAERR, "%s v%s has no run", o->model_name, ver);
			mlflow_version_free(&v);
			goto out;
		}
		mlflow_metric ms[16];
		char keys[16][64];
		size_t k = 0;
		int64_t now_ms = (int64_t)time(NULL) * 1000;
		for (size_t j = 0; j < n && k < 16; j++) {
			if (rows[j].version != rows[i].version || strcmp(rows[j].arm, "all") != 0)
				continue;
			char key[56];
			if (metric_key(rows[j].metric, key, sizeof key) < 0)
				continue;
			snprintf(keys[k], sizeof keys[k], "online_%s", key);
			ms[k] = (mlflow_metric){keys[k], rows[j].value, 0, now_ms};
			k++;
		}
		int lrc = mlflow_log_batch(&m, v.run_id, NULL, 0, ms, k, NULL, 0, NULL, err);
		if (lrc == 0)
			printf("%s\t%d\t%zu\n", v.run_id, rows[i].version, k);
		mlflow_version_free(&v);
		if (lrc != 0)
			goto out;
	}
	rc = 0;
out:
	mlflow_close(&m);
	free(rows);
	return rc;
}

int mlog_online_gate(const mlog_opts *o, const char *version, FILE *in, lf_error *err)
{
	int64_t cand;
	if (parse_i64(version, 1, INT32_MAX, &cand) < 0)
		return lf_fail(err, EX_USAGE, "'%s' is not a model version (a positive integer)",
			       version);
	struct orow *rows = calloc(MAX_ROWS, sizeof *rows);
	size_t n = 0;
	int rc = -1;
	if (!rows)
		return lf_fail(err, EX_OSERR, "out of memory");
	if (read_rows(in, rows, &n, err) < 0)
		goto out;
	/* the champion: the other version with the most answers as the champion */
	int champ = 0;
	double best = -1, x1 = 0, n1 = 0, x0 = 0, n0 = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].version != cand && strcmp(rows[i].arm, "champion") == 0 &&
		    strcmp(rows[i].metric, "impressions") == 0 && rows[i].value > best) {
			best = rows[i].value;
			champ = rows[i].version;
		}
	row_value(rows, n, (int)cand, "challenger", "impressions", &n1);
	row_value(rows, n, (int)cand, "challenger", "hits@", &x1);
	if (champ) {
		row_value(rows, n, champ, "champion", "impressions", &n0);
		row_value(rows, n, champ, "champion", "hits@", &x0);
	}
	double z;
	enum gate_verdict v = gate_online((int64_t)x1, (int64_t)n1, (int64_t)x0, (int64_t)n0,
					  o->min_impressions, o->alpha, &z);
	log_info("v%lld as the challenger: %.0f hits in %.0f answers; champion v%d: %.0f in %.0f; "
		 "z = %.3f, passes above %.3f (one-sided alpha %g), %lld answers an arm at least",
		 (long long)cand, x1, n1, champ, x0, n0, z, gate_z_critical(o->alpha), o->alpha,
		 (long long)o->min_impressions);
	if (printf("%s\n", gate_verdict_name(v)) < 0) {
		lf_fail(err, EX_IOERR, "stdout: write failed");
		goto out;
	}
	rc = 0;
out:
	free(rows);
	return rc;
}
