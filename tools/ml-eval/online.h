/*
 * online.h — ml-eval --online: what users did with what they were served.
 * Reads the impressions and feedback TSV of `ml-fetch --source postgresql://…`
 * (lib/store_online.h gives their columns and the hit rule this shares with
 * ml-serve's gauges) and prints, per model version and arm (champion,
 * challenger, and all: the version over both), the rows
 * `version \t arm \t metric \t value`:
 *   impressions      ranked answers served
 *   users            distinct users among them (a new user's answer counts by request)
 *   hits@k           answers with a hit among their first k movies
 *   hit_rate@k       hits@k / impressions
 *   precision@k      hit movies among the first k, over impressions x k
 *   mean_rating_of_hits  the mean rating of the hits (the earliest matching event
 *                    of each); absent when there is none
 */
#ifndef ML_EVAL_ONLINE_H
#define ML_EVAL_ONLINE_H

#include <stdio.h>

#include "log.h"

int online_evaluate(const char *impressions_path, const char *feedback_path, double window_s,
		    int k, FILE *out, lf_error *err);

#endif
