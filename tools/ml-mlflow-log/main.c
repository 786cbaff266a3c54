/*
 * ml-mlflow-log — log a training run to MLflow and register its model; move
 * the registry's `champion` alias (gate, promote, rollback, history).
 * Options and wiring only: logrun.c logs, registry.c moves.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "tsv.h"
#include "mlog.h"

enum { MODE_LOG, MODE_GATE, MODE_PROMOTE, MODE_ROLLBACK, MODE_HISTORY, MODE_CHAMPION, MODE_INFO };

static mlog_opts o = {.experiment = "lensflow", .model_name = "lensflow", .metric = "ndcg_at_10",
		      .min_impressions = 500, .alpha = 0.05};
static struct {
	int mode, verbosity;
	const char *mode_arg;
} args = {.verbosity = 1};

static const opts_opt options[] = {
	OPTS_STRING('u', "tracking-uri", &o.tracking_uri, "URI",
		    "MLflow server (default $MLFLOW_TRACKING_URI)"),
	OPTS_STRING('e', "experiment", &o.experiment, "NAME", "experiment (default lensflow)"),
	OPTS_STRING('m', "model-name", &o.model_name, "NAME", "registered model (default lensflow)"),
	OPTS_STRING('n', "run-name", &o.run_name, "NAME", "the run's name"),
	OPTS_STRING(0, "params", &o.params_file, "FILE", "params TSV (name\\tvalue)"),
	OPTS_LIST(0, "param", &o.params, "K=V", "one param (repeatable; overrides --params)"),
	OPTS_LIST(0, "tag", &o.tags, "K=V", "one run tag (repeatable)"),
	OPTS_STRING(0, "losses", &o.losses_file, "FILE",
		    "losses TSV (step\\tname\\tvalue) as stepped metrics"),
	OPTS_STRING(0, "model", &o.model_file, "FILE.lfe",
		    "the model: checked, uploaded as model/model.lfe, registered"),
	OPTS_LIST(0, "artifact", &o.artifacts, "FILE",
		  "one more artifact, under its base name (repeatable)"),
	OPTS_STRING(0, "dataset-sha256", &o.dataset_sha256, "HEX",
		    "tag dataset_sha256 (and the run input's digest)"),
	OPTS_STRING(0, "dataset-name", &o.dataset_name, "NAME",
		    "log the ratings as the run's input dataset NAME (ml-25m):\n"
		    "MLflow's runs/log-inputs, context training, with the\n"
		    "ratings' schema; needs --dataset-sha256"),
	OPTS_STRING(0, "dataset-source", &o.dataset_source, "URI",
		    "where the dataset came from (URL or path)"),
	OPTS_STRING(0, "dataset-rows", &o.dataset_rows, "N",
		    "its number of ratings (the input's profile)"),
	OPTS_STRING(0, "started", &o.started, "SECONDS",
		    "the run's start time (unix seconds, e.g. date +%s.%N\n"
		    "just before ml-train), else now"),
	OPTS_STRING(0, "source-name", &o.source_name, "NAME",
		    "tag mlflow.source.name (default ml-mlflow-log; with\n"
		    "mlflow.source.type LOCAL)"),
	OPTS_STRING(0, "git-commit", &o.git_commit, "ID",
		    "tag git_commit (default $LENSFLOW_GIT_COMMIT)"),
	OPTS_SET(0, "no-register", &o.no_register, 1, "log the run but create no model version"),
	OPTS_STRING(0, "metric", &o.metric, "NAME",
		    "the gate's metric (default ndcg_at_10; rmse*, mae*, *loss*:\n"
		    "lower is better, else higher)"),
	OPTS_STRING(0, "reason", &o.reason, "TEXT", "recorded with a promotion or rollback"),
	OPTS_MODE(0, "gate", &args.mode, MODE_GATE, &args.mode_arg, "N",
		  "print pass|fail: vN not worse than the champion"),
	OPTS_MODE(0, "promote", &args.mode, MODE_PROMOTE, &args.mode_arg, "N",
		  "alias champion -> vN, recorded"),
	OPTS_MODE(0, "rollback", &args.mode, MODE_ROLLBACK, NULL, NULL,
		  "champion -> the previous; prints it"),
	OPTS_MODE(0, "history", &args.mode, MODE_HISTORY, NULL, NULL,
		  "TSV time, from, to, reason of every move"),
	OPTS_MODE(0, "champion", &args.mode, MODE_CHAMPION, NULL, NULL, "the champion's version"),
	OPTS_MODE(0, "version-info", &args.mode, MODE_INFO, &args.mode_arg, "N",
		  "version, run_id, source and the run's metrics (name\\tvalue)"),
	OPTS_SET(0, "online", &o.online, 1,
		 "stdin is ml-eval --online's TSV: log its metrics onto each\n"
		 "version's run as online_<metric> (the version over both\n"
		 "arms), or with --gate M judge the challenger vM against\n"
		 "the champion: a one-sided two-proportion z-test on\n"
		 "hit_rate@k; pass, fail, or wait while an arm has fewer\n"
		 "than --min-impressions answers"),
	OPTS_I64(0, "min-impressions", &o.min_impressions, 1, INT64_MAX / 4, "N",
		 "the online gate's minimum answers per arm (default 500)"),
	{.type = OPTS_T_DOUBLE, .long_name = "alpha", .value = &o.alpha, .dmin = 0, .dmax = 0.5,
	 .flags = OPTS_EXCLUSIVE, .argh = "A",
	 .help = "the online gate's one-sided level (default 0.05)"},
	OPTS_SET('v', "verbose", &args.verbosity, 2, "more on stderr"),
	OPTS_SET('q', "quiet", &args.verbosity, 0, "less on stderr"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-mlflow-log",
	.usage = "usage: ml-mlflow-log [OPTION]... < metrics.tsv    log one run, register its model\n"
		 "       ml-mlflow-log --gate N [--metric NAME]     pass|fail: vN not worse than champion\n"
		 "       ml-mlflow-log --promote N [--reason TEXT]  alias champion -> vN, recorded\n"
		 "       ml-mlflow-log --rollback [--reason TEXT]   champion -> the previous; prints it\n"
		 "       ml-mlflow-log --history | --champion | --version-info N\n"
		 "       ml-mlflow-log --online < online.tsv        log ml-eval --online onto each run\n"
		 "       ml-mlflow-log --gate M --online [--min-impressions 500] [--alpha 0.05] < online.tsv\n"
		 "\n"
		 "Log mode reads metrics TSV (name\\tvalue) on stdin and prints TSV lines run_id,\n"
		 "experiment_id, model_version ('@' in metric names is logged as '_at_': ndcg@10 ->\n"
		 "ndcg_at_10). The metrics are also kept as artifact metrics.tsv. A version is created\n"
		 "only for --model and only after every upload succeeded; any failure after the run\n"
		 "exists marks the run FAILED. --history prints TSV time, from, to, reason;\n"
		 "--version-info N prints version, run_id, source and the run's metrics (name\\tvalue).\n",
	.opts = options,
	.footer = "Exit: 0 ok (a gate that says fail too); 64 usage; 65 bad input or MLflow refused (its\n"
		  "error_code and message shown); 66 no such version, no champion, nothing to roll back\n"
		  "to; 69 MLflow unreachable or failing (5xx); 70 internal error; 71 out of memory;\n"
		  "74 I/O error; 76 MLflow answered something unexpected.\n"
		  "\n"
		  "example:\n"
		  "  ml-train --params p.tsv --losses l.tsv < train.tsv > m.lfe &&\n"
		  "  ml-eval --train train.tsv --test test.tsv < m.lfe |\n"
		  "    ml-mlflow-log --model m.lfe --params p.tsv --losses l.tsv > run.tsv &&\n"
		  "  v=$(awk '$1 == \"model_version\" {print $2}' run.tsv) &&\n"
		  "  [ \"$(ml-mlflow-log --gate \"$v\")\" = pass ] && ml-mlflow-log --promote \"$v\"\n",
};

/* What the table cannot say: the environment's defaults, names and text. */
static int check_args(void)
{
	if (o.reason && !utf8_valid(o.reason, strlen(o.reason))) {
		log_error("--reason is not valid UTF-8");
		return EX_USAGE;
	}
	if (!o.tracking_uri || !*o.tracking_uri)
		o.tracking_uri = getenv("MLFLOW_TRACKING_URI");
	if (!o.tracking_uri || !*o.tracking_uri) {
		log_error("no MLflow server: set MLFLOW_TRACKING_URI or give --tracking-uri "
			  "(scripts/services up starts one)");
		return EX_USAGE;
	}
	if (!o.git_commit)
		o.git_commit = getenv("LENSFLOW_GIT_COMMIT");
	/* never NULL (the parser hands every value over): checked for the analyzer */
	if (!o.model_name || !*o.model_name || !o.experiment || !*o.experiment ||
	    !mlflow_key_valid(o.model_name))
		return opts_error(&cmd, "the experiment and model names must be plain names");
	if (o.online && args.mode != 0 && args.mode != MODE_GATE)
		return opts_error(&cmd, "--online goes alone or with --gate M");
	log_set_level(args.verbosity);
	return 0;
}

static int run(lf_error *err)
{
	switch (args.mode) {
	case MODE_GATE:
		return o.online ? mlog_online_gate(&o, args.mode_arg, stdin, err)
				: mlog_gate(&o, args.mode_arg, err);
	case MODE_PROMOTE:
		return mlog_promote(&o, args.mode_arg, err);
	case MODE_ROLLBACK:
		return mlog_rollback(&o, err);
	case MODE_HISTORY:
		return mlog_history(&o, err);
	case MODE_CHAMPION:
		return mlog_champion(&o, err);
	case MODE_INFO:
		return mlog_version_info(&o, args.mode_arg, err);
	default:
		return o.online ? mlog_online_log(&o, stdin, err) : mlog_run(&o, stdin, "stdin", err);
	}
}

int main(int argc, char **argv)
{
	lf_error err = {0};
	int argi, rc;
	log_set_prog(cmd.prog);
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) == OPTS_CONTINUE && (rc = check_args()) == 0) {
		rc = run(&err);
		if (rc == 0 && fflush(stdout) != 0)
			rc = lf_fail(&err, EX_IOERR, "stdout: write failed");
		if (rc != 0) {
			log_error("%s", err.msg);
			rc = err.code ? err.code : EX_SOFTWARE;
		}
	}
	opts_list_free(&o.params);
	opts_list_free(&o.tags);
	opts_list_free(&o.artifacts);
	return rc;
}
