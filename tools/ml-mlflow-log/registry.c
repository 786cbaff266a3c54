/*
 * registry.c — the registry moves of ml-mlflow-log: the gate, promotion,
 * rollback and the champion history (history.h), and two read-only views.
 *
 * The alias is the truth of which version serves; the history is its record.
 * A move sets the alias first and records it after; if the record fails the
 * tool says so (the alias did move) and exits non-zero.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "mlog.h"
#include "util.h"

static int open_client(const mlog_opts *o, mlflow *m, lf_error *err)
{
	return mlflow_open(m, o->tracking_uri, err);
}

/* The version, which must exist: 66 when it does not. */
static int need_version(const mlog_opts *o, mlflow *m, const char *version, mlflow_version *v,
			lf_error *err)
{
	if (!version_valid(version)) {
		/* -1 spelled out: 0 here would hand back an unfilled *v */
		lf_fail(err, EX_USAGE, "'%s' is not a model version (a positive integer)", version);
		return -1;
	}
	int rc = mlflow_version_get(m, o->model_name, version, v, err);
	if (rc == 1)
		return lf_fail(err, EX_NOINPUT, "model %s has no version %s", o->model_name,
			       version);
	return rc;
}

/* The metric of a version's run: 0, or -1 (EX_DATAERR when it has none). */
static int version_metric(const mlog_opts *o, mlflow *m, const mlflow_version *v, double *value,
			  lf_error *err)
{
	mlflow_metrics ms = {0};
	if (!v->run_id[0])
		return lf_fail(err, EX_DATAERR, "%s v%s has no run", o->model_name, v->version);
	int rc = mlflow_run_metrics(m, v->run_id, &ms, err);
	if (rc == 1)
		return lf_fail(err, EX_DATAERR, "%s v%s: run %s does not exist", o->model_name,
			       v->version, v->run_id);
	if (rc == 0 && mlflow_metrics_get(&ms, o->metric, value) != 0)
		rc = lf_fail(err, EX_DATAERR, "%s v%s: run %s has no metric %s", o->model_name,
			     v->version, v->run_id, o->metric);
	mlflow_metrics_free(&ms);
	return rc;
}

/* The gate: may cand replace champ (NULL: there is none)? Fills *pass and a
 * one-line reason. Fails only when cand's run has no such metric or MLflow
 * cannot be asked; a champion without the metric lets cand pass. */
static int judge(const mlog_opts *o, mlflow *m, const mlflow_version *cand,
		 const mlflow_version *champ, int *pass, char *reason, size_t size, lf_error *err)
{
	double cv = 0, hv = 0;
	*pass = 1;
	if (version_metric(o, m, cand, &cv, err) != 0)
		return -1;
	if (isnan(cv)) { /* logged by another client: not a number never passes */
		*pass = 0;
		snprintf(reason, size, "v%s %s is NaN", cand->version, o->metric);
		return 0;
	}
	if (!champ) {
		snprintf(reason, size, "v%s %s %.4f: no champion yet", cand->version, o->metric,
			 cv);
		return 0;
	}
	if (strcmp(champ->version, cand->version) == 0) {
		snprintf(reason, size, "v%s is the champion", cand->version);
		return 0;
	}
	lf_error none = {0};
	if (version_metric(o, m, champ, &hv, &none) != 0) {
		if (none.code != EX_DATAERR) {
			*err = none;
			return -1;
		}
		snprintf(reason, size, "v%s %s %.4f: champion v%s has no %s", cand->version,
			 o->metric, cv, champ->version, o->metric);
		return 0;
	}
	int lower = metric_lower_is_better(o->metric);
	int worse = lower ? cv > hv : cv < hv; /* a NaN champion loses to any number */
	*pass = !worse;
	snprintf(reason, size, "v%s %s %.4f %s champion v%s %.4f", cand->version, o->metric, cv,
		 worse ? (lower ? ">" : "<") : (lower ? "<=" : ">="), champ->version, hv);
	return 0;
}

int mlog_gate(const mlog_opts *o, const char *version, lf_error *err)
{
	mlflow m = {0};
	mlflow_version cand = {0}, champ = {0};
	int rc = -1, got, pass;
	char reason[256];
	if (open_client(o, &m, err) != 0 || need_version(o, &m, version, &cand, err) != 0)
		goto out;
	got = mlflow_alias_get(&m, o->model_name, CHAMPION_ALIAS, &champ, err);
	if (got < 0 ||
	    judge(o, &m, &cand, got == 0 ? &champ : NULL, &pass, reason, sizeof reason, err) != 0)
		goto out;
	log_info("%s", reason);
	if (printf("%s\n", pass ? "pass" : "fail") < 0) {
		lf_fail(err, EX_IOERR, "stdout: write failed");
		goto out;
	}
	rc = 0;
out:
	mlflow_version_free(&cand);
	mlflow_version_free(&champ);
	mlflow_close(&m);
	return rc;
}

/* Points the alias at `to` and appends the move to the history. */
static int move_champion(const mlog_opts *o, mlflow *m, const char *from, const char *to,
			 const char *action, const char *reason, lf_error *err)
{
	char now[32], *text = NULL, *json = NULL, key[64];
	history h = {0};
	utc_now_iso(now);
	int got = mlflow_model_get_tag(m, o->model_name, HISTORY_TAG, &text, err);
	if (got < 0)
		return -1;
	/* A malformed history is not overwritten: a person has to look at it. */
	if (history_parse(text, &h, err) != 0) {
		free(text);
		return -1;
	}
	free(text);
	int rc = -1;
	snprintf(key, sizeof key, "lensflow.%s_at",
		 strcmp(action, "promote") == 0 ? "promoted" : "rolled_back");
	if (history_append(&h, now, action, from, to, reason, err) != 0 ||
	    history_dump(&h, &json, err) != 0 ||
	    mlflow_alias_set(m, o->model_name, CHAMPION_ALIAS, to, err) != 0)
		goto out;
	if (mlflow_version_set_tag(m, o->model_name, to, key, now, err) != 0 ||
	    mlflow_model_set_tag(m, o->model_name, HISTORY_TAG, json, err) != 0) {
		lf_error_prefix(err, "champion moved to v%s but the move is not recorded", to);
		goto out;
	}
	log_info("champion: %s%s -> v%s (%s)", from[0] ? "v" : "", from[0] ? from : "none", to,
		 reason);
	rc = 0;
out:
	free(json);
	history_free(&h);
	return rc;
}

int mlog_promote(const mlog_opts *o, const char *version, lf_error *err)
{
	mlflow m = {0};
	mlflow_version v = {0}, champ = {0};
	int rc = -1, got, pass;
	char reason[256] = "promoted";
	if (open_client(o, &m, err) != 0 || need_version(o, &m, version, &v, err) != 0)
		goto out;
	got = mlflow_alias_get(&m, o->model_name, CHAMPION_ALIAS, &champ, err);
	if (got < 0)
		goto out;
	if (got == 0 && strcmp(champ.version, v.version) == 0) {
		log_info("v%s is already the champion", v.version);
	} else {
		/* Without --reason the record says how the two compared (a
		 * promotion is the caller's decision: a failing gate is recorded,
		 * not refused). */
		lf_error why;
		if (o->reason)
			snprintf(reason, sizeof reason, "%s", o->reason);
		else if (judge(o, &m, &v, got == 0 ? &champ : NULL, &pass, reason, sizeof reason,
			       &why) != 0) {
			if (why.code != EX_DATAERR) {
				*err = why;
				goto out;
			}
			snprintf(reason, sizeof reason, "promoted (%.200s)", why.msg);
		}
		if (move_champion(o, &m, got == 0 ? champ.version : "", v.version, "promote",
				  reason, err) != 0)
			goto out;
	}
	if (printf("%s\n", v.version) < 0) {
		lf_fail(err, EX_IOERR, "stdout: write failed");
		goto out;
	}
	rc = 0;
out:
	mlflow_version_free(&v);
	mlflow_version_free(&champ);
	mlflow_close(&m);
	return rc;
}

int mlog_rollback(const mlog_opts *o, lf_error *err)
{
	mlflow m = {0};
	mlflow_version champ = {0}, target_v = {0};
	history h = {0};
	char *text = NULL, target[16], reason[HISTORY_REASON_MAX];
	int rc = -1, got;
	if (open_client(o, &m, err) != 0)
		goto out;
	got = mlflow_alias_get(&m, o->model_name, CHAMPION_ALIAS, &champ, err);
	if (got < 0)
		goto out;
	if (got == 1) {
		lf_fail(err, EX_NOINPUT, "model %s has no champion to roll back from",
			o->model_name);
		goto out;
	}
	if (mlflow_model_get_tag(&m, o->model_name, HISTORY_TAG, &text, err) < 0 ||
	    history_parse(text, &h, err) != 0)
		goto out;
	if (history_rollback_target(&h, champ.version, target) != 0) {
		lf_fail(err, EX_NOINPUT, "model %s: no earlier champion than v%s in the history",
			o->model_name, champ.version);
		goto out;
	}
	/* the earlier champion may have been deleted since */
	if (need_version(o, &m, target, &target_v, err) != 0)
		goto out;
	snprintf(reason, sizeof reason, "%s", o->reason ? o->reason : "rollback");
	if (move_champion(o, &m, champ.version, target, "rollback", reason, err) != 0)
		goto out;
	if (printf("%s\n", target) < 0) {
		lf_fail(err, EX_IOERR, "stdout: write failed");
		goto out;
	}
	rc = 0;
out:
	free(text);
	history_free(&h);
	mlflow_version_free(&champ);
	mlflow_version_free(&target_v);
	mlflow_close(&m);
	return rc;
}

int mlog_history(const mlog_opts *o, lf_error *err)
{
	mlflow m = {0};
	history h = {0};
	char *text = NULL;
	int rc = -1;
	if (open_client(o, &m, err) == 0 &&
	    mlflow_model_get_tag(&m, o->model_name, HISTORY_TAG, &text, err) >= 0 &&
	    history_parse(text, &h, err) == 0 && history_write_tsv(stdout, &h, err) == 0)
		rc = 0;
	free(text);
	history_free(&h);
	mlflow_close(&m);
	return rc;
}

int mlog_champion(const mlog_opts *o, lf_error *err)
{
	mlflow m = {0};
	mlflow_version champ = {0};
	int rc = -1, got;
	if (open_client(o, &m, err) != 0)
		goto out;
	got = mlflow_alias_get(&m, o->model_name, CHAMPION_ALIAS, &champ, err);
	if (got == 1)
		lf_fail(err, EX_NOINPUT, "model %s has no champion", o->model_name);
	else if (got == 0 && printf("%s\n", champ.version) < 0)
		lf_fail(err, EX_IOERR, "stdout: write failed");
	else if (got == 0)
		rc = 0;
out:
	mlflow_version_free(&champ);
	mlflow_close(&m);
	return rc;
}

int mlog_version_info(const mlog_opts *o, const char *version, lf_error *err)
{
	mlflow m = {0};
	mlflow_version v = {0};
	mlflow_metrics ms = {0};
	int rc = -1;
	if (open_client(o, &m, err) != 0 || need_version(o, &m, version, &v, err) != 0)
		goto out;
	if (v.run_id[0] && mlflow_run_metrics(&m, v.run_id, &ms, err) < 0)
		goto out;
	if (printf("version\t%s\nrun_id\t%s\nsource\t%s\n", v.version, v.run_id, v.source) < 0)
		goto io;
	for (size_t i = 0; i < ms.n; i++) {
		char num[FMT_DOUBLE_MAX];
		if (printf("%s\t%s\n", ms.items[i].key, fmt_double(num, ms.items[i].value)) < 0)
			goto io;
	}
	rc = 0;
	goto out;
io:
	lf_fail(err, EX_IOERR, "stdout: write failed");
out:
	mlflow_metrics_free(&ms);
	mlflow_version_free(&v);
	mlflow_close(&m);
	return rc;
}
