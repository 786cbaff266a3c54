/*
 * mlog.h — what main.c hands to the two halves of ml-mlflow-log: the
 * logging of one run (logrun.c) and the registry moves (registry.c).
 *
 * Ownership: every pointer in mlog_opts is borrowed from argv or the
 * environment and lives as long as main().
 */
#ifndef ML_MLFLOW_LOG_MLOG_H
#define ML_MLFLOW_LOG_MLOG_H

#include <stdio.h>

#include "log.h"
#include "mlflow.h"
#include "opts.h"

#define CHAMPION_ALIAS "champion"

/* Repeatable options ("K=V" or paths), collected by lib/opts. */
typedef opts_list mlog_list;

typedef struct mlog_opts {
	const char *tracking_uri;
	const char *experiment;	 /* "lensflow" */
	const char *model_name;	 /* "lensflow" */
	const char *run_name;	 /* may be NULL */
	const char *params_file; /* may be NULL */
	const char *losses_file;
	const char *model_file;
	const char *dataset_sha256;
	const char *dataset_name;   /* the run input's name ("ml-25m"); may be NULL */
	const char *dataset_source; /* where it came from (URL or path); may be NULL */
	const char *dataset_rows;   /* its number of ratings (the profile); may be NULL */
	const char *started;	    /* unix seconds the training started at; may be NULL */
	const char *source_name;    /* mlflow.source.name; may be NULL */
	const char *git_commit;
	const char *metric;  /* the gate's, "ndcg_at_10" */
	const char *reason;  /* of a promotion or rollback; may be NULL */
	mlog_list params;    /* "K=V" */
	mlog_list tags;	     /* "K=V" */
	mlog_list artifacts; /* paths */
	int no_register;
	int online;              /* --online: stdin is ml-eval --online's TSV */
	int64_t min_impressions; /* the online gate's minimum answers per arm */
	double alpha;            /* the online gate's one-sided level */
} mlog_opts;

/* Log mode: metrics TSV read from in (named in_name). Prints the TSV result. */
int mlog_run(const mlog_opts *o, FILE *in, const char *in_name, lf_error *err);

/* Registry moves. Each prints its result on stdout. */
int mlog_gate(const mlog_opts *o, const char *version, lf_error *err);
int mlog_promote(const mlog_opts *o, const char *version, lf_error *err);
int mlog_rollback(const mlog_opts *o, lf_error *err);
int mlog_history(const mlog_opts *o, lf_error *err);
int mlog_champion(const mlog_opts *o, lf_error *err);
int mlog_version_info(const mlog_opts *o, const char *version, lf_error *err);

/* online.c: ml-eval --online's TSV from in, logged onto each version's run
 * (prints run_id, version, metrics logged), or judged (prints pass|fail|wait). */
int mlog_online_log(const mlog_opts *o, FILE *in, lf_error *err);
int mlog_online_gate(const mlog_opts *o, const char *version, FILE *in, lf_error *err);

/* 1 when a smaller value of metric is better (rmse*, mae*, *loss*). */
int metric_lower_is_better(const char *metric);
/* "ndcg@10" → "ndcg_at_10" into out (size bytes); -1 when it does not fit. */
int metric_key(const char *name, char *out, size_t size);

#endif
