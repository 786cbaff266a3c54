#!/usr/bin/env bats
# ml-fetch: every NAME from the dataset directory, from file:// URLs to the
# directory and to a zip built here, MD5 checks, broken archives, missing
# members, a user's own ratings file, network failures, usage errors.
load helpers

setup_file() {
	export ZIPDIR="$BATS_FILE_TMPDIR"
	# ml-100k.zip as GroupLens lays it out (members under ml-100k/), built from $DATA
	mkdir -p "$ZIPDIR/tree/ml-100k"
	cp "$DATA"/u* "$ZIPDIR/tree/ml-100k/"
	if command -v zip >/dev/null; then
		(cd "$ZIPDIR/tree" && zip -qr "$ZIPDIR/ml-100k.zip" ml-100k)
		(cd "$ZIPDIR/tree/ml-100k" && zip -q "$ZIPDIR/flat.zip" u.data u.item u.genre)
		(cd "$ZIPDIR/tree/ml-100k" && zip -q "$ZIPDIR/noitem.zip" u.data u.genre)
	else
		(cd "$ZIPDIR/tree" && python3 -m zipfile -c "$ZIPDIR/ml-100k.zip" ml-100k)
		(cd "$ZIPDIR/tree/ml-100k" && python3 -m zipfile -c "$ZIPDIR/flat.zip" u.data u.item u.genre)
		(cd "$ZIPDIR/tree/ml-100k" && python3 -m zipfile -c "$ZIPDIR/noitem.zip" u.data u.genre)
	fi
	start_httpd
}

# An HTTP server on 127.0.0.1 for the http:// tests: socat runs
# test/fixtures/data-httpd.sh per connection over $ZIPDIR. Sets HTTP_PORT.
start_httpd() {
	command -v socat >/dev/null || return 0
	local try port
	for try in 1 2 3 4 5; do
		port=$((20000 + (RANDOM * 7 + try) % 40000))
		DOCROOT=$ZIPDIR socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
			"EXEC:$FIXTURES/data-httpd.sh" 2>/dev/null &
		echo $! >"$ZIPDIR/socat.pid"
		sleep 0.3
		if kill -0 "$(cat "$ZIPDIR/socat.pid")" 2>/dev/null; then
			echo "$port" >"$ZIPDIR/http.port"
			return 0
		fi
	done
}

teardown_file() {
	if [ -f "$ZIPDIR/socat.pid" ]; then
		kill "$(cat "$ZIPDIR/socat.pid")" 2>/dev/null || true
	fi
}

need_httpd() {
	[ -f "$ZIPDIR/http.port" ] || skip "socat is not installed (apt-get install socat)"
	HTTP_PORT=$(cat "$ZIPDIR/http.port")
}

# runs ml-fetch with stdout to $TMP/out and stderr to $TMP/err; status in $status
fetch() {
	set +e
	"$BIN/ml-fetch" "$@" >"$TMP/out" 2>"$TMP/err"
	status=$?
	set -e
}

@test "ratings from the dataset directory: u.data's 100000 lines, byte for byte" {
	fetch --source "$DATA"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 100000 ]
	cmp "$TMP/out" "$DATA/u.data"
}

@test "the sha256 line on stderr is the SHA-256 of exactly what was emitted" {
	fetch --source "$DATA" ratings
	[ "$status" -eq 0 ]
	want=$(sha256sum <"$TMP/out" | cut -d' ' -f1)
	run cat "$TMP/err"
	assert_output "ml-fetch: sha256 $want ratings"
	fetch --source "$DATA" movies
	want=$(sha256sum <"$TMP/out" | cut -d' ' -f1)
	grep -qx "ml-fetch: sha256 $want movies" "$TMP/err"
}

@test "movies: 1682 rows, titles converted from Latin-1 to UTF-8, genres in u.genre's order" {
	fetch --source "$DATA" movies
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 1682 ]
	run grep -x $'1\tToy Story (1995)\t01-Jan-1995\tAnimation|Children\'s|Comedy' "$TMP/out"
	assert_success
	run grep -x $'543\tMis\xc3\xa9rables, Les (1995)\t01-Jan-1995\tDrama|Musical' "$TMP/out"
	assert_success
	run grep -x $'1633\t\xc3\x81 k\xc3\xb6ldum klaka (Cold Fever) (1994)\t08-Mar-1996\tComedy|Drama' "$TMP/out"
	assert_success
	run grep -x $'267\tunknown\t\tunknown' "$TMP/out"
	assert_success
	iconv -f UTF-8 -t UTF-8 "$TMP/out" >/dev/null # valid UTF-8 throughout
	# every title equals iconv's Latin-1 → UTF-8 of u.item's second field
	cut -d'|' -f2 "$DATA/u.item" | iconv -f LATIN1 -t UTF-8 >"$TMP/want-titles"
	cut -f2 "$TMP/out" >"$TMP/titles"
	cmp "$TMP/titles" "$TMP/want-titles"
	# every row's genres, recomputed from the flags and u.genre with awk
	awk -F'|' 'NR == FNR { if ($0 != "") g[$2] = $1; next }
		{ s = ""; for (i = 0; i < 19; i++) if ($(6 + i) == 1) s = s (s == "" ? "" : "|") g[i]; print $1 "\t" s }' \
		"$DATA/u.genre" "$DATA/u.item" >"$TMP/want-genres"
	cut -f1,4 "$TMP/out" >"$TMP/genres"
	cmp "$TMP/genres" "$TMP/want-genres"
}

@test "users: 943 rows of user_id, age, gender, occupation, zip_code" {
	fetch --source "$DATA" users
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 943 ]
	[ "$(head -1 "$TMP/out")" = $'1\t24\tM\ttechnician\t85711' ]
	cmp "$TMP/out" <(tr '|' '\t' <"$DATA/u.user")
}

@test "official split files: u1.base has 80000 lines, ua.test 9430, each byte for byte" {
	fetch --source "$DATA" u1.base
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 80000 ]
	cmp "$TMP/out" "$DATA/u1.base"
	fetch --source "$DATA" ua.test
	[ "$(wc -l <"$TMP/out")" -eq 9430 ]
	cmp "$TMP/out" "$DATA/ua.test"
	fetch --source "$DATA" ub.base
	cmp "$TMP/out" "$DATA/ub.base"
}

@test "a file:// URL to the directory, and LENSFLOW_DATA_URL" {
	fetch --source "file://$DATA" ratings
	[ "$status" -eq 0 ]
	cmp "$TMP/out" "$DATA/u.data"
	set +e
	LENSFLOW_DATA_URL="file://$DATA" "$BIN/ml-fetch" users >"$TMP/out" 2>/dev/null
	set -e
	[ "$(wc -l <"$TMP/out")" -eq 943 ]
}

@test "a zip archive by path and by file:// URL gives the same bytes as the directory" {
	"$BIN/ml-fetch" --source "$DATA" movies >"$TMP/dir-movies" 2>/dev/null
	fetch --source "$ZIPDIR/ml-100k.zip" movies
	[ "$status" -eq 0 ]
	cmp "$TMP/out" "$TMP/dir-movies"
	fetch --source "file://$ZIPDIR/ml-100k.zip" ratings
	[ "$status" -eq 0 ]
	cmp "$TMP/out" "$DATA/u.data"
	fetch --source "file://$ZIPDIR/ml-100k.zip" u1.test
	[ "$(wc -l <"$TMP/out")" -eq 20000 ]
}

@test "a zip with the files at its top level works too" {
	fetch --source "$ZIPDIR/flat.zip" ratings
	[ "$status" -eq 0 ]
	cmp "$TMP/out" "$DATA/u.data"
}

@test "--md5: the right sum passes, a wrong one is exit 65 with nothing written" {
	sum=$(md5sum <"$ZIPDIR/ml-100k.zip" | cut -d' ' -f1)
	fetch --source "file://$ZIPDIR/ml-100k.zip" --md5 "$sum" users
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 943 ]
	fetch --source "$ZIPDIR/ml-100k.zip" --md5 0e33842e24a9c977be4e0107933c0723 -o "$TMP/users.tsv" users
	[ "$status" -eq 65 ]
	run cat "$TMP/err"
	assert_output --partial "MD5 is $sum, expected 0e33842e24a9c977be4e0107933c0723"
	[ ! -e "$TMP/users.tsv" ]
	[ ! -s "$TMP/out" ]
	fetch --source "$ZIPDIR/ml-100k.zip" --md5 nothex
	[ "$status" -eq 64 ]
	fetch --source "$DATA" --md5 "$sum"
	[ "$status" -eq 64 ]
	grep -q "directory" "$TMP/err"
}

@test "a truncated zip and a zip with altered data are exit 65" {
	size=$(stat -c %s "$ZIPDIR/ml-100k.zip")
	head -c $((size / 2)) "$ZIPDIR/ml-100k.zip" >"$TMP/half.zip"
	fetch --source "$TMP/half.zip" ratings
	[ "$status" -eq 65 ]
	run cat "$TMP/err"
	assert_output --partial "half.zip"
	[ ! -s "$TMP/out" ]
	# flip one byte inside u.data's compressed data (just after its local header)
	cp "$ZIPDIR/flat.zip" "$TMP/bad.zip"
	printf '\x55' | dd of="$TMP/bad.zip" bs=1 seek=2000 conv=notrunc status=none
	fetch --source "$TMP/bad.zip" ratings
	[ "$status" -eq 65 ]
	run cat "$TMP/err"
	assert_output --partial "bad.zip"
	[ ! -s "$TMP/out" ]
}

@test "a member missing from the zip or the directory is exit 66 naming it" {
	fetch --source "$ZIPDIR/noitem.zip" movies
	[ "$status" -eq 66 ]
	run cat "$TMP/err"
	assert_output --partial "u.item"
	[ ! -s "$TMP/out" ]
	mkdir "$TMP/partial"
	cp "$DATA/u.data" "$TMP/partial/"
	fetch --source "$TMP/partial" users
	[ "$status" -eq 66 ]
	grep -q "partial/u.user" "$TMP/err"
	fetch --source "$TMP/no-such-dir" ratings
	[ "$status" -eq 66 ]
	fetch --source "file://$TMP/no-such.zip" ratings
	[ "$status" -eq 66 ]
}

@test "a user's own ratings file: taken as it is, a bad line is exit 65 naming file:line" {
	printf '1\t10\t5\t100\n2\t10\t3\t200\n1\t11\t4\t300' >"$TMP/mine.tsv"
	fetch --source "$TMP/mine.tsv"
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'1\t10\t5\t100\n2\t10\t3\t200\n1\t11\t4\t300' ]
	printf '1\t10\t5\t100\n2\t10\t3\t200\n1\t11\t7\t300\n' >"$TMP/bad.tsv"
	fetch --source "$TMP/bad.tsv" -o "$TMP/ratings.tsv"
	[ "$status" -eq 65 ]
	run cat "$TMP/err"
	assert_output --partial "bad.tsv:3: rating '7' is not on the scale 0.5..5 in steps of 0.5"
	[ ! -e "$TMP/ratings.tsv" ]
	printf '1\t10\t5\t100\n1\t10\t3\t200\n' >"$TMP/dup.tsv"
	fetch --source "file://$TMP/dup.tsv"
	[ "$status" -eq 65 ]
	grep -q "dup.tsv:2: user 1 rated movie 10 again" "$TMP/err"
	fetch --source "$TMP/mine.tsv" movies
	[ "$status" -eq 66 ]
	grep -q "single ratings file" "$TMP/err"
}

@test "a bad line in u.item of a directory names the file and line" {
	mkdir "$TMP/d"
	cp "$DATA/u.genre" "$TMP/d/"
	head -5 "$DATA/u.item" >"$TMP/d/u.item"
	echo '6|Broken|01-Jan-1995||http://x|0|1' >>"$TMP/d/u.item"
	fetch --source "$TMP/d" movies
	[ "$status" -eq 65 ]
	run cat "$TMP/err"
	assert_output --partial "d/u.item:6: expected 24"
	head -3 "$DATA/u.item" >"$TMP/d/u.item"
	head -1 "$DATA/u.item" >>"$TMP/d/u.item"
	fetch --source "$TMP/d" movies
	[ "$status" -eq 65 ]
	grep -q "u.item:4: movie id 1 repeated (first at line 1)" "$TMP/err"
}

@test "-o writes the file atomically; stdout to a file is rolled back on failure" {
	fetch --source "$DATA" -o "$TMP/ratings.tsv"
	[ "$status" -eq 0 ]
	[ ! -s "$TMP/out" ]
	cmp "$TMP/ratings.tsv" "$DATA/u.data"
	[ "$(ls -A "$TMP" | grep -c '^\.ratings')" -eq 0 ]
	fetch --source "$DATA" -o "$TMP/no/such/dir/x.tsv"
	[ "$status" -eq 73 ]
	grep -q "no/such/dir/x.tsv" "$TMP/err"
	run "$BIN/ml-fetch" --source "$DATA" -o /dev/full/x
	[ "$status" -ne 0 ]
}

@test "writing to a full device is exit 74" {
	[ -w /dev/full ] || skip "no /dev/full"
	set +e
	"$BIN/ml-fetch" --source "$DATA" users >/dev/full 2>"$TMP/err"
	status=$?
	set -e
	[ "$status" -eq 74 ]
	grep -q "stdout: write failed: No space left on device" "$TMP/err"
}

@test "http:// to a closed port on 127.0.0.1 is exit 69 with curl's reason" {
	# the first port of a few that nothing listens on (bash's /dev/tcp probes it)
	port=
	for p in 9 47 1023 39999 40123; do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			port=$p
			break
		fi
	done
	[ -n "$port" ]
	fetch --source "http://127.0.0.1:$port/ml-100k.zip" -o "$TMP/r.tsv"
	[ "$status" -eq 69 ]
	run cat "$TMP/err"
	assert_output --partial "http://127.0.0.1:$port/ml-100k.zip"
	assert_output --partial "connect"
	[ ! -e "$TMP/r.tsv" ]
}

@test "usage errors: unknown NAME, two NAMEs, unknown option, unsupported scheme are exit 64" {
	fetch --source "$DATA" u6.base
	[ "$status" -eq 64 ]
	grep -q "unknown NAME 'u6.base'" "$TMP/err"
	fetch --source "$DATA" ratings movies
	[ "$status" -eq 64 ]
	fetch --bogus
	[ "$status" -eq 64 ]
	fetch --source "ftp://127.0.0.1/x.zip"
	[ "$status" -eq 64 ]
	grep -q "unsupported URL scheme" "$TMP/err"
}

@test "--help shows an example pipe; --version names the tool" {
	run "$BIN/ml-fetch" --help
	assert_success
	assert_output --partial "usage: ml-fetch"
	assert_output --partial "| ml-split"
	run "$BIN/ml-fetch" --version
	assert_success
	assert_output --regexp '^ml-fetch lensflow [0-9]+\.[0-9]+\.[0-9]+ \(.+\)$'
}

@test "-o to a FIFO writes through it and leaves it a FIFO" {
	mkfifo "$TMP/fifo"
	cat "$TMP/fifo" >"$TMP/from-fifo" &
	reader=$!
	fetch --source "$DATA" -o "$TMP/fifo" users
	wait "$reader"
	[ "$status" -eq 0 ]
	[ -p "$TMP/fifo" ]
	[ "$(wc -l <"$TMP/from-fifo")" -eq 943 ]
}

@test "http://: the archive over HTTP, through a redirect, checked by --md5" {
	need_httpd
	LENSFLOW_HOME=$TMP/home fetch --source "http://127.0.0.1:$HTTP_PORT/ml-100k.zip" ratings
	[ "$status" -eq 0 ]
	cmp "$TMP/out" "$DATA/u.data"
	fetch --source "http://127.0.0.1:$HTTP_PORT/redirect/ml-100k.zip" movies
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 1682 ]
	sum=$(md5sum <"$ZIPDIR/ml-100k.zip" | cut -d' ' -f1)
	fetch --source "http://127.0.0.1:$HTTP_PORT/ml-100k.zip" --md5 "$sum" users
	[ "$status" -eq 0 ]
	fetch --source "http://127.0.0.1:$HTTP_PORT/ml-100k.zip" --md5 00000000000000000000000000000000 users
	[ "$status" -eq 65 ]
	grep -q "MD5 is $sum" "$TMP/err"
	[ ! -s "$TMP/out" ]
	# only the GroupLens archive is cached
	[ ! -e "$TMP/home/cache" ]
}

@test "http://: HTTP 404 is exit 69 naming the status" {
	need_httpd
	LENSFLOW_HOME=$TMP/home fetch --source "http://127.0.0.1:$HTTP_PORT/no-such.zip"
	[ "$status" -eq 69 ]
	run cat "$TMP/err"
	assert_output --partial "http://127.0.0.1:$HTTP_PORT/no-such.zip: HTTP 404"
	[ ! -s "$TMP/out" ]
}

@test "a cached GroupLens archive that fails its MD5 is not used" {
	mkdir -p "$TMP/home/cache"
	cp "$ZIPDIR/ml-100k.zip" "$TMP/home/cache/ml-100k.zip" # not the published archive
	rc=0
	LENSFLOW_HOME=$TMP/home LENSFLOW_DATA_URL= timeout 60 "$BIN/ml-fetch" ratings \
		>"$TMP/out" 2>"$TMP/err" || rc=$?
	run cat "$TMP/err"
	assert_output --partial "cache/ml-100k.zip: MD5 is"
	assert_output --partial "downloading it again"
	# offline: the download fails (69); online: the real archive replaces the bad copy
	if [ "$rc" -eq 0 ]; then
		[ "$(md5sum <"$TMP/home/cache/ml-100k.zip" | cut -d' ' -f1)" = 0e33842e24a9c977be4e0107933c0723 ]
	else
		[ "$rc" -eq 69 ]
		[ ! -s "$TMP/out" ]
		assert_output --partial "files.grouplens.org"
	fi
}

@test "a u.item already in UTF-8 is passed through, not encoded twice" {
	mkdir "$TMP/utf8"
	cp "$DATA/u.genre" "$TMP/utf8/"
	iconv -f LATIN1 -t UTF-8 "$DATA/u.item" >"$TMP/utf8/u.item"
	"$BIN/ml-fetch" --source "$DATA" movies >"$TMP/want" 2>/dev/null
	fetch --source "$TMP/utf8" movies
	[ "$status" -eq 0 ]
	cmp "$TMP/out" "$TMP/want"
}

@test "a genre flag other than 0 or 1 is exit 65 naming the line" {
	mkdir "$TMP/g"
	cp "$DATA/u.genre" "$TMP/g/"
	head -2 "$DATA/u.item" >"$TMP/g/u.item"
	head -3 "$DATA/u.item" | tail -1 | sed 's/|0$/|2/' >>"$TMP/g/u.item"
	fetch --source "$TMP/g" movies
	[ "$status" -eq 65 ]
	grep -q "g/u.item:3: genre flag 18 is '2'" "$TMP/err"
}

@test "a file:// URL with a percent-encoded space in its path" {
	mkdir "$TMP/my data"
	cp "$ZIPDIR/ml-100k.zip" "$TMP/my data/"
	fetch --source "file://$TMP/my%20data/ml-100k.zip" users
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 943 ]
}
