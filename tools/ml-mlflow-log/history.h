/*
 * history.h — the champion history: every move of alias `champion`, kept as
 * a JSON array in the registered model's tag `lensflow.champion_history`:
 *
 *   [{"time": "2026-12-02T12:00:00Z", "action": "promote", "from": "2",
 *     "to": "3", "reason": "ndcg_at_10 0.4925 >= 0.4801"}, …]
 *
 * "from" is null for the first champion. Append-only; the oldest entries are
 * dropped beyond HISTORY_KEEP so that the tag stays far below MLflow's
 * 100,000-character limit. Pure (no I/O but the TSV writer): unit-tested.
 *
 * Ownership: a history owns its entries and their strings; history_free
 * releases them (safe on a zeroed history and after a failed parse).
 */
#ifndef ML_MLFLOW_LOG_HISTORY_H
#define ML_MLFLOW_LOG_HISTORY_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define HISTORY_TAG "lensflow.champion_history"
#define HISTORY_KEEP 200
#define HISTORY_REASON_MAX 300

typedef struct history_entry {
	char time[32];	 /* ISO 8601 UTC */
	char action[16]; /* "promote" or "rollback" */
	char from[16];	 /* "" when there was no champion */
	char to[16];
	char *reason;
} history_entry;

typedef struct history {
	history_entry *items;
	size_t n;
} history;

/* text NULL or "" is an empty history. Anything else must be the array
 * above with valid versions (positive decimal) and actions: EX_DATAERR
 * naming the entry otherwise. */
int history_parse(const char *text, history *out, lf_error *err);
/* Copies the strings; the reason is cut at HISTORY_REASON_MAX bytes. */
int history_append(history *h, const char *time, const char *action, const char *from,
		   const char *to, const char *reason, lf_error *err);
/* The JSON text of the last HISTORY_KEEP entries (caller frees). */
int history_dump(const history *h, char **text, lf_error *err);
/* The version a rollback from `current` returns to: the history replayed as
 * a stack (a promotion pushes, a rollback pops), entries equal to current
 * popped from the top; the top left is the target. 0 and target (16 bytes)
 * filled, or 1 when there is none. */
int history_rollback_target(const history *h, const char *current, char *target);
/* "time\tfrom\tto\treason\n" per entry, oldest first; tabs and newlines in
 * reasons become spaces. */
int history_write_tsv(FILE *f, const history *h, lf_error *err);
void history_free(history *h);

/* 1 when s is a positive decimal of at most 9 digits (a model version). */
int version_valid(const char *s);
/* Now as "2026-12-02T12:00:00Z" in buf (32 bytes). */
void utc_now_iso(char *buf);

#endif
