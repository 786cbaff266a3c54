/*
 * ml-mlflow-log — log a training run to MLflow and register its model; move
 * the registry's `champion` alias (gate, promote, rollback, history).
 * Options and wiring only: logrun.c logs, registry.c moves.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tsv.h"
#include "mlog.h"
#include "util.h"

static const char usage_text[] =
	"usage: ml-mlflow-log [OPTION]... < metrics.tsv    log one run, register its model\n"
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
	"--version-info N prints version, run_id, source and the run's metrics (name\\tvalue).\n"
	"\n"
	"  -u, --tracking-uri URI    MLflow server (default $MLFLOW_TRACKING_URI)\n"
	"  -e, --experiment NAME     experiment (default lensflow)\n"
	"  -m, --model-name NAME     registered model (default lensflow)\n"
	"  -n, --run-name NAME       the run's name\n"
	"      --params FILE         params TSV (name\\tvalue)\n"
	"      --param K=V           one param (repeatable; overrides --params)\n"
	"      --tag K=V             one run tag (repeatable)\n"
	"      --losses FILE         losses TSV (step\\tname\\tvalue) as stepped metrics\n"
	"      --model FILE.lfe      the model: checked, uploaded as model/model.lfe, registered\n"
	"      --artifact FILE       one more artifact, under its base name (repeatable)\n"
	"      --dataset-sha256 HEX  tag dataset_sha256\n"
	"      --git-commit ID       tag git_commit (default $LENSFLOW_GIT_COMMIT)\n"
	"      --no-register         log the run but create no model version\n"
	"      --metric NAME         the gate's metric (default ndcg_at_10; rmse*, mae*, *loss*:\n"
	"                            lower is better, else higher)\n"
	"      --reason TEXT         recorded with a promotion or rollback\n"
	"      --online              stdin is ml-eval --online's TSV: log its metrics onto each\n"
	"                            version's run as online_<metric> (the version over both\n"
	"                            arms), or with --gate M judge the challenger vM against\n"
	"                            the champion: a one-sided two-proportion z-test on\n"
	"                            hit_rate@k; pass, fail, or wait while an arm has fewer\n"
	"                            than --min-impressions answers\n"
	"      --min-impressions N   the online gate's minimum answers per arm (default 500)\n"
	"      --alpha A             the online gate's one-sided level (default 0.05)\n"
	"  -v, --verbose / -q, --quiet   more / less on stderr\n"
	"  -h, --help, --version\n"
	"\n"
	"Exit: 0 ok (a gate that says fail too); 64 usage; 65 bad input or MLflow refused (its\n"
	"error_code and message shown); 66 no such version, no champion, nothing to roll back\n"
	"to; 69 MLflow unreachable or failing (5xx); 70 internal error; 74 I/O error; 76 MLflow\n"
	"answered something unexpected.\n"
	"\n"
	"example:\n"
	"  ml-train --params p.tsv --losses l.tsv < train.tsv > m.lfe &&\n"
	"  ml-eval --train train.tsv --test test.tsv < m.lfe |\n"
	"    ml-mlflow-log --model m.lfe --params p.tsv --losses l.tsv > run.tsv &&\n"
	"  v=$(awk '$1 == \"model_version\" {print $2}' run.tsv) &&\n"
	"  [ \"$(ml-mlflow-log --gate \"$v\")\" = pass ] && ml-mlflow-log --promote \"$v\"\n";

enum {
	OPT_PARAMS = 256,
	OPT_PARAM,
	OPT_TAG,
	OPT_LOSSES,
	OPT_MODEL,
	OPT_ARTIFACT,
	OPT_SHA,
	OPT_GIT,
	OPT_NO_REGISTER,
	OPT_METRIC,
	OPT_REASON,
	OPT_GATE,
	OPT_PROMOTE,
	OPT_ROLLBACK,
	OPT_HISTORY,
	OPT_CHAMPION,
	OPT_INFO,
	OPT_VERSION,
	OPT_ONLINE,
	OPT_MIN_IMPRESSIONS,
	OPT_ALPHA
};

static const struct option long_opts[] = {
	{"tracking-uri", required_argument, NULL, 'u'},
	{"experiment", required_argument, NULL, 'e'},
	{"model-name", required_argument, NULL, 'm'},
	{"run-name", required_argument, NULL, 'n'},
	{"params", required_argument, NULL, OPT_PARAMS},
	{"param", required_argument, NULL, OPT_PARAM},
	{"tag", required_argument, NULL, OPT_TAG},
	{"losses", required_argument, NULL, OPT_LOSSES},
	{"model", required_argument, NULL, OPT_MODEL},
	{"artifact", required_argument, NULL, OPT_ARTIFACT},
	{"dataset-sha256", required_argument, NULL, OPT_SHA},
	{"git-commit", required_argument, NULL, OPT_GIT},
	{"no-register", no_argument, NULL, OPT_NO_REGISTER},
	{"metric", required_argument, NULL, OPT_METRIC},
	{"reason", required_argument, NULL, OPT_REASON},
	{"gate", required_argument, NULL, OPT_GATE},
	{"promote", required_argument, NULL, OPT_PROMOTE},
	{"rollback", no_argument, NULL, OPT_ROLLBACK},
	{"history", no_argument, NULL, OPT_HISTORY},
	{"champion", no_argument, NULL, OPT_CHAMPION},
	{"version-info", required_argument, NULL, OPT_INFO},
	{"online", no_argument, NULL, OPT_ONLINE},
	{"min-impressions", required_argument, NULL, OPT_MIN_IMPRESSIONS},
	{"alpha", required_argument, NULL, OPT_ALPHA},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static int usage_error(const char *msg, const char *arg)
{
	log_error("%s%s%s; see --help", msg, arg ? ": " : "", arg ? arg : "");
	return EX_USAGE;
}

/* Appends to a list whose storage is sized for argc entries. */
static void list_add(mlog_list *l, const char *s) { l->items[l->n++] = s; }

int main(int argc, char **argv)
{
	mlog_opts o = {.experiment = "lensflow", .model_name = "lensflow", .metric = "ndcg_at_10",
		       .min_impressions = 500, .alpha = 0.05};
	int mode = 0, c, rc;
	const char *mode_arg = NULL;
	lf_error err = {0};
	log_set_prog("ml-mlflow-log");
	/* argc bounds every list: one calloc for the three */
	size_t slots = (size_t)argc + 1;
	const char **lists = calloc(3 * slots, sizeof *lists);
	if (!lists) {
		log_error("out of memory");
		return EX_SOFTWARE;
	}
	o.params.items = lists;
	o.tags.items = lists + slots;
	o.artifacts.items = lists + 2 * slots;
	while ((c = getopt_long(argc, argv, "u:e:m:n:vqh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o.tracking_uri = optarg;
			break;
		case 'e':
			o.experiment = optarg;
			break;
		case 'm':
			o.model_name = optarg;
			break;
		case 'n':
			o.run_name = optarg;
			break;
		case OPT_PARAMS:
			o.params_file = optarg;
			break;
		case OPT_PARAM:
			list_add(&o.params, optarg);
			break;
		case OPT_TAG:
			list_add(&o.tags, optarg);
			break;
		case OPT_LOSSES:
			o.losses_file = optarg;
			break;
		case OPT_MODEL:
			o.model_file = optarg;
			break;
		case OPT_ARTIFACT:
			list_add(&o.artifacts, optarg);
			break;
		case OPT_SHA:
			o.dataset_sha256 = optarg;
			break;
		case OPT_GIT:
			o.git_commit = optarg;
			break;
		case OPT_NO_REGISTER:
			o.no_register = 1;
			break;
		case OPT_METRIC:
			o.metric = optarg;
			break;
		case OPT_REASON:
			if (!utf8_valid(optarg, strlen(optarg))) {
				free(lists);
				log_error("--reason is not valid UTF-8");
				return EX_USAGE;
			}
			o.reason = optarg;
			break;
		case OPT_ONLINE:
			o.online = 1;
			break;
		case OPT_MIN_IMPRESSIONS:
			if (parse_i64(optarg, 1, INT64_MAX / 4, &o.min_impressions) < 0) {
				free(lists);
				return usage_error("--min-impressions wants a count >= 1", optarg);
			}
			break;
		case OPT_ALPHA:
			if (parse_double(optarg, 1e-9, 0.5, &o.alpha) < 0 || o.alpha >= 0.5) {
				free(lists);
				return usage_error("--alpha wants a level in (0, 0.5)", optarg);
			}
			break;
		case OPT_GATE:
		case OPT_PROMOTE:
		case OPT_ROLLBACK:
		case OPT_HISTORY:
		case OPT_CHAMPION:
		case OPT_INFO:
			if (mode && mode != c) {
				free(lists);
				return usage_error("choose one of --gate, --promote, --rollback, "
						   "--history, --champion, --version-info",
						   NULL);
			}
			mode = c;
			mode_arg = optarg;
			break;
		case 'v':
			log_set_level(2);
			break;
		case 'q':
			log_set_level(0);
			break;
		case 'h':
			free(lists);
			fputs(usage_text, stdout);
			return fflush(stdout) == 0 ? 0 : EX_IOERR;
		case OPT_VERSION:
			free(lists);
			printf("ml-mlflow-log lensflow %s (%s)\n", LENSFLOW_VERSION,
			       LENSFLOW_COMMIT);
			return fflush(stdout) == 0 ? 0 : EX_IOERR;
		default:
			free(lists);
			return usage_error("bad option", NULL);
		}
	}
	if (optind < argc) {
		free(lists);
		return usage_error("unexpected argument", argv[optind]);
	}
	if (!o.tracking_uri || !*o.tracking_uri)
		o.tracking_uri = getenv("MLFLOW_TRACKING_URI");
	if (!o.tracking_uri || !*o.tracking_uri) {
		free(lists);
		log_error("no MLflow server: set MLFLOW_TRACKING_URI or give --tracking-uri "
			  "(scripts/services up starts one)");
		return EX_USAGE;
	}
	if (!o.git_commit)
		o.git_commit = getenv("LENSFLOW_GIT_COMMIT");
	/* never NULL (getopt hands every required argument over): checked for the analyzer */
	if (!o.model_name || !*o.model_name || !o.experiment || !*o.experiment ||
	    !mlflow_key_valid(o.model_name)) {
		free(lists);
		return usage_error("the experiment and model names must be plain names", NULL);
	}
	if (o.online && mode != 0 && mode != OPT_GATE) {
		free(lists);
		return usage_error("--online goes alone or with --gate M", NULL);
	}
	switch (mode) {
	case OPT_GATE:
		rc = o.online ? mlog_online_gate(&o, mode_arg, stdin, &err)
			      : mlog_gate(&o, mode_arg, &err);
		break;
	case OPT_PROMOTE:
		rc = mlog_promote(&o, mode_arg, &err);
		break;
	case OPT_ROLLBACK:
		rc = mlog_rollback(&o, &err);
		break;
	case OPT_HISTORY:
		rc = mlog_history(&o, &err);
		break;
	case OPT_CHAMPION:
		rc = mlog_champion(&o, &err);
		break;
	case OPT_INFO:
		rc = mlog_version_info(&o, mode_arg, &err);
		break;
	default:
		rc = o.online ? mlog_online_log(&o, stdin, &err) : mlog_run(&o, stdin, "stdin", &err);
		break;
	}
	free(lists);
	if (rc == 0 && fflush(stdout) != 0)
		rc = lf_fail(&err, EX_IOERR, "stdout: write failed");
	if (rc != 0) {
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
