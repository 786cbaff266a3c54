# online.bash — loaded by ml-serve-living.bats and living-loop.bats: the online
# evaluation's oracle, computed from the tables (psql rows, awk), independently of
# ml-serve's gauges and ml-eval --online.

# online_oracle MODEL: "version arm impressions hits" per version and arm, and per
# version with arm "all" (both arms), of MODEL's answers served in the last day (the
# gauges' window). A hit is a rating by the answer's user, or carrying its request id,
# of one of its first 10 movies, from the second it was served to a day after.
online_oracle() {
	sql "SELECT user_id, movie_id, extract(epoch FROM rated_at), coalesce(request_id, '')
		FROM feedback" >"$BATS_TEST_TMPDIR/fb.rows"
	sql "SELECT request_id, extract(epoch FROM served_at), coalesce(user_id, 0), model_version, arm,
		array_to_string(movie_ids, ',') FROM impressions WHERE model_name = '$1'
		AND served_at > now() - interval '86400 seconds'" >"$BATS_TEST_TMPDIR/imp.rows"
	awk -F'|' 'NR == FNR { u[$1 "," $2] = u[$1 "," $2] " " $3; if ($4 != "") r[$4 "," $2] = r[$4 "," $2] " " $3; next }
		function within(list, from, to,   n, t, i) {
			n = split(list, t, " ")
			for (i = 1; i <= n; i++) if (t[i] + 0 >= from && t[i] + 0 <= to) return 1
			return 0
		}
		{
			from = int($2); to = $2 + 86400; n = split($6, m, ","); hit = 0
			for (i = 1; i <= n && i <= 10; i++)
				if (($3 > 0 && within(u[$3 "," m[i]], from, to)) || within(r[$1 "," m[i]], from, to)) hit = 1
			imp[$4 " " $5]++; hits[$4 " " $5] += hit; imp[$4 " all"]++; hits[$4 " all"] += hit
		}
		END { for (k in imp) print k, imp[k], hits[k] }' "$BATS_TEST_TMPDIR/fb.rows" "$BATS_TEST_TMPDIR/imp.rows" | sort
}
