#!/usr/bin/env bats
# ml-fetch --dataset: each GroupLens release's own format read strictly (ML-1M's
# '::' .dat with Latin-1 titles, ML-10M's half stars, the CSV releases' header
# and quoted titles), broken files refused (65, file:line), a release
# recognised by its files in a directory or a zip, and each release's MD5
# checked on an archive served by a local HTTP server (a GroupLens mirror).
# The expected outputs below are written by hand, or made by awk and Python's
# csv module from the input: never by ml-fetch itself.
load helpers

SYNTH=$TEST_TOOLS/ml-synth

setup_file() {
	local d=$BATS_FILE_TMPDIR
	[ -x "$SYNTH" ] || make -s -C "$REPO" "${BUILD:-build/release}/test-tools/ml-synth" >&2
	# synthetic releases in GroupLens' archive layout (one folder inside each zip)
	mkdir -p "$d/www"
	local f dir
	for f in 1m 10m 20m 25m 32m latest-small; do
		dir=ml-$f
		[ "$f" = 10m ] && dir=ml-10M100K
		mkdir -p "$d/tree-$f"
		"$SYNTH" --format "$f" --out "$d/tree-$f/$dir" --users 120 --movies 400 --ratings 6000 \
			--seed 3
		(cd "$d/tree-$f" && zip -qr "$d/www/ml-$f.zip" "$dir")
	done
	PORT=$(free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$d/www" "$PORT" >/dev/null 2>&1 &
	echo $! >"$d/httpd.pid"
	echo "$PORT" >"$d/httpd.port"
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
		sleep 0.1
	done
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/httpd.pid" ] && kill "$(cat "$BATS_FILE_TMPDIR/httpd.pid")" 2>/dev/null
	true
}

setup() {
	export LENSFLOW_HOME=$TMP/home LENSFLOW_DATA_URL=
	PORT=$(cat "$BATS_FILE_TMPDIR/httpd.port")
	WWW=$BATS_FILE_TMPDIR/www
}

# ml-fetch with stdout to $TMP/out, stderr to $TMP/err; status in $status
fetch() {
	set +e
	"$BIN/ml-fetch" "$@" >"$TMP/out" 2>"$TMP/err"
	status=$?
	set -e
}

# refused ARGS... : exit 65, nothing on stdout, and the message names $WANT
refused() {
	fetch "$@"
	[ "$status" -eq 65 ] || { cat "$TMP/err"; false; }
	[ ! -s "$TMP/out" ]
	grep -qF -- "$WANT" "$TMP/err" || { cat "$TMP/err"; false; }
}

@test "ML-1M: '::' files, Latin-1 titles to UTF-8, users with occupations by name" {
	mkdir "$TMP/m"
	printf '1::10::5::978300760\n1::2::3::978302109\n2::10::4::978298413\n' >"$TMP/m/ratings.dat"
	printf '2::Jumanji (1995)::Adventure|Children'"'"'s|Fantasy\n10::Mis\xe9rables, Les (1995)::Drama|Musical\n' \
		>"$TMP/m/movies.dat"
	printf '1::F::1::10::48067\n2::M::56::16::70072\n' >"$TMP/m/users.dat"
	fetch --dataset ml-1m --source "$TMP/m" ratings
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'1\t10\t5\t978300760\n1\t2\t3\t978302109\n2\t10\t4\t978298413' ]
	fetch --source "$TMP/m" movies
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'2\tJumanji (1995)\t\tAdventure|Children\'s|Fantasy\n10\tMisérables, Les (1995)\t\tDrama|Musical' ]
	fetch --source "$TMP/m" users
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'1\t1\tF\tK-12 student\t48067\n2\t56\tM\tself-employed\t70072' ]
	# no official splits in ML-1M
	fetch --source "$TMP/m" u1.base
	[ "$status" -eq 66 ]
	grep -q "ml-split makes the project's splits" "$TMP/err"
}

@test "ML-10M: half stars printed as 3.5, whole ones as integers; UTF-8 titles; no users" {
	mkdir "$TMP/t"
	printf '1::122::5::838985046\n1::185::4.5::838983525\n7::122::0.5::1049764436\n7::3::3.0::1\n' \
		>"$TMP/t/ratings.dat"
	printf '122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime|Thriller\n3::Café (2001)::Drama\n' \
		>"$TMP/t/movies.dat"
	fetch --dataset ml-10m --source "$TMP/t"
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'1\t122\t5\t838985046\n1\t185\t4.5\t838983525\n7\t122\t0.5\t1049764436\n7\t3\t3\t1' ]
	fetch --source "$TMP/t" movies
	[ "$status" -eq 0 ]
	[ "$(sed -n 3p "$TMP/out")" = $'3\tCafé (2001)\t\tDrama' ]
	fetch --source "$TMP/t" users
	[ "$status" -eq 66 ]
	grep -q "no users file" "$TMP/err"
	# half stars go on through the other tools
	"$BIN/ml-fetch" --source "$TMP/t" 2>/dev/null | "$BIN/ml-split" --test "$TMP/test.tsv" \
		--protocol random --ratio 0.5 >"$TMP/train.tsv"
	cat "$TMP/train.tsv" "$TMP/test.tsv" | grep -q $'\t4.5\t'
}

@test "CSV releases: header, quoted titles with commas and doubled quotes, (no genres listed)" {
	mkdir "$TMP/c"
	cat >"$TMP/c/movies.csv" <<-'EOF'
		movieId,title,genres
		1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
		11,"American President, The (1995)",Comedy|Drama|Romance
		26,"Foo ""Bar"", Baz (1999)",(no genres listed)
		27,"""Quoted"" (2000)",Drama
	EOF
	printf 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,3.5,964981247\n2,26,0.5,1\n' \
		>"$TMP/c/ratings.csv"
	fetch --dataset ml-25m --source "$TMP/c" movies
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'1\tToy Story (1995)\t\tAdventure|Animation|Children|Comedy|Fantasy\n11\tAmerican President, The (1995)\t\tComedy|Drama|Romance\n26\tFoo "Bar", Baz (1999)\t\t\n27\t"Quoted" (2000)\t\tDrama' ]
	fetch --source "$TMP/c" ratings
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/out")" = $'1\t1\t4\t964982703\n1\t11\t3.5\t964981247\n2\t26\t0.5\t1' ]
	# every CSV release is the same layout
	for d in ml-20m ml-32m ml-latest-small; do
		fetch --dataset "$d" --source "$TMP/c" ratings
		[ "$status" -eq 0 ]
	done
}

@test "a synthetic release converts as awk and Python's csv module read it, from a directory and a zip" {
	local tree=$BATS_FILE_TMPDIR/tree-25m/ml-25m
	fetch --source "$tree" -o "$TMP/r.tsv" ratings
	[ "$status" -eq 0 ]
	awk -F, 'NR > 1 { r = $3; sub(/\.0$/, "", r); print $1 "\t" $2 "\t" r "\t" $4 }' \
		"$tree/ratings.csv" >"$TMP/want.tsv"
	cmp "$TMP/r.tsv" "$TMP/want.tsv"
	fetch --source "$WWW/ml-25m.zip" -o "$TMP/z.tsv" ratings
	[ "$status" -eq 0 ]
	cmp "$TMP/z.tsv" "$TMP/want.tsv"
	grep -q "sha256 $(sha256sum <"$TMP/want.tsv" | cut -d' ' -f1) ratings" "$TMP/err"
	fetch --source "$WWW/ml-25m.zip" movies
	[ "$status" -eq 0 ]
	python3 -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
assert rows[0] == ["movieId", "title", "genres"]
none = "(no genres listed)"
for i, t, g in rows[1:]:
    print(i, t, "", "" if g == none else g, sep="\t")' "$tree/movies.csv" >"$TMP/mwant"
	cmp "$TMP/out" "$TMP/mwant"
	grep -q '"' "$TMP/out" # the synthetic titles do hold quotes
	# ML-1M's zip: Latin-1 titles are UTF-8 on the way out
	fetch --source "$WWW/ml-1m.zip" movies
	[ "$status" -eq 0 ]
	iconv -f UTF-8 -t UTF-8 "$TMP/out" >/dev/null
	iconv -f LATIN1 -t UTF-8 "$BATS_FILE_TMPDIR/tree-1m/ml-1m/movies.dat" |
		awk -F'::' '{ print $1 "\t" $2 "\t\t" $3 }' | cmp - "$TMP/out"
}

@test "broken files are exit 65 naming file and line, with nothing written" {
	mkdir "$TMP/a" "$TMP/b"
	printf '1::10::5::978300760\n1::11::5\n' >"$TMP/a/ratings.dat"
	printf '10::X (1995)::Drama\n' >"$TMP/a/movies.dat"
	printf '1::F::1::10::48067\n2::M::7::16::70072\n' >"$TMP/a/users.dat"
	WANT="a/ratings.dat:2: expected 4 '::'-separated fields" refused --source "$TMP/a" -o "$TMP/o.tsv"
	[ ! -e "$TMP/o.tsv" ]
	WANT="a/users.dat:2: expected UserID::Gender::Age" refused --source "$TMP/a" users
	printf '1::10::5::978300760\n1::11::4.25::978300760\n' >"$TMP/a/ratings.dat"
	WANT="a/ratings.dat:2: rating '4.25' is not on the scale 0.5..5" refused --source "$TMP/a"
	printf '1::10::5::978300760\n1::11::5::x\n' >"$TMP/a/ratings.dat"
	WANT="a/ratings.dat:2: timestamp 'x'" refused --source "$TMP/a"
	printf '10::X (1995)\n' >"$TMP/a/movies.dat"
	WANT="a/movies.dat:1: expected 3 '::'-separated fields" refused --source "$TMP/a" movies

	printf 'movieId,title,genres\n1,X (1995),Drama\n' >"$TMP/b/movies.csv"
	printf 'userId,movieId,rating\n1,1,4.0\n' >"$TMP/b/ratings.csv"
	WANT="b/ratings.csv:1: expected the header 'userId,movieId,rating,timestamp'" refused --source "$TMP/b"
	printf 'userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,6.0,5\n' >"$TMP/b/ratings.csv"
	WANT="b/ratings.csv:3: rating '6.0'" refused --source "$TMP/b"
	printf 'userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,3.0,5\n1,1,2.0,6\n' >"$TMP/b/ratings.csv"
	WANT="b/ratings.csv:4: user 1 rated movie 1 again (first at line 2)" refused --source "$TMP/b"
	printf 'userId,movieId,rating,timestamp\n1,1,4.0,5\n2,2,3.0,5\n1,3,2.0,6\n' >"$TMP/b/ratings.csv"
	WANT="b/ratings.csv:4: user 1's ratings resume here" refused --source "$TMP/b"
	printf 'userId,movieId,rating,timestamp\n1,1,4.0,5\r\n' >"$TMP/b/ratings.csv"
	WANT="b/ratings.csv:2: a carriage return" refused --source "$TMP/b"
	printf 'userId,movieId,rating,timestamp\n' >"$TMP/b/ratings.csv"
	WANT="b/ratings.csv: no ratings" refused --source "$TMP/b"
	printf 'movieId,title,genres\n1,"X, The (1995),Drama\n' >"$TMP/b/movies.csv"
	WANT="b/movies.csv:2: a quoted field is not closed" refused --source "$TMP/b" movies
	printf 'movieId,title,genres\n1,X "Y" (1995),Drama\n' >"$TMP/b/movies.csv"
	WANT="b/movies.csv:2: a quote inside an unquoted field" refused --source "$TMP/b" movies
	printf 'movieId,title,genres\n1,"X" Y (1995),Drama\n' >"$TMP/b/movies.csv"
	WANT="b/movies.csv:2: text after a closing quote" refused --source "$TMP/b" movies
	printf 'movieId,title,genres\n1,X, The (1995),Drama\n' >"$TMP/b/movies.csv"
	WANT="b/movies.csv:2: more than 3 fields" refused --source "$TMP/b" movies
	printf 'movieId,title,genres\n1,X (1995),Drama\n1,Y (1996),Drama\n' >"$TMP/b/movies.csv"
	WANT="b/movies.csv:3: movie id 1 repeated (first at line 2)" refused --source "$TMP/b" movies
	printf 'movieId,title,genres\n1,Caf\xe9 (1995),Drama\n' >"$TMP/b/movies.csv"
	WANT="b/movies.csv:2: the title is not UTF-8" refused --source "$TMP/b" movies
}

@test "a release is recognised by its files; --dataset must match what is there" {
	fetch --source "$WWW/ml-10m.zip" ratings
	[ "$status" -eq 0 ]
	grep -q $'\t[0-4]\\.5\t' "$TMP/out"
	WANT="holds ML-10M's (ratings.dat, movies.dat) files, not ml-1m's" \
		refused --dataset ml-1m --source "$WWW/ml-10m.zip"
	WANT="not ml-100k's" refused --dataset ml-100k --source "$BATS_FILE_TMPDIR/tree-latest-small/ml-latest-small"
	mkdir "$TMP/empty"
	fetch --source "$TMP/empty"
	[ "$status" -eq 66 ]
	grep -q "empty/u.data" "$TMP/err"
	fetch --dataset ml-7m
	[ "$status" -eq 64 ]
	grep -q "ml-100k ml-1m ml-10m ml-20m ml-25m ml-32m ml-latest-small" "$TMP/err"
}

@test "each release's archive from a mirror is checked against GroupLens' published MD5" {
	export LENSFLOW_GROUPLENS_URL=http://127.0.0.1:$PORT
	local d sum
	# the synthetic archives are not GroupLens' files: each is refused by its own sum
	for d in ml-1m:c4d9eecfca2ab87c1945afe126590906 ml-10m:ce571fd55effeba0271552578f2648bd \
		ml-20m:cd245b17a1ae2cc31bb14903e1204af3 ml-25m:6b51fb2759a8657d3bfcbfc42b592ada \
		ml-32m:d472be332d4daa821edc399621853b57; do
		sum=$(md5sum <"$WWW/${d%%:*}.zip" | cut -d' ' -f1)
		WANT="${d%%:*}.zip: MD5 is $sum, expected ${d#*:}" refused --dataset "${d%%:*}" -o "$TMP/r.tsv"
		[ ! -e "$TMP/r.tsv" ]
		[ ! -e "$TMP/home/cache/${d%%:*}.zip" ]
	done
	# the same archive with its right sum given is taken, and cached under its name
	sum=$(md5sum <"$WWW/ml-20m.zip" | cut -d' ' -f1)
	fetch --dataset ml-20m --md5 "$sum" ratings
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 6000 ]
	cmp "$TMP/home/cache/ml-20m.zip" "$WWW/ml-20m.zip"
	# LENSFLOW_DATA_URL and --source name the mirror's file just as well
	LENSFLOW_DATA_URL=$LENSFLOW_GROUPLENS_URL/ml-1m.zip fetch --dataset ml-1m users
	[ "$status" -eq 65 ]
	grep -q "expected c4d9eecfca2ab87c1945afe126590906" "$TMP/err"
	# a URL elsewhere is taken as it is (no published sum to hold it to)
	fetch --source "http://127.0.0.1:$PORT/ml-1m.zip?copy" users
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 120 ]
}

@test "ml-latest-small is checked against the .md5 file beside it, not a constant" {
	export LENSFLOW_GROUPLENS_URL=http://127.0.0.1:$PORT
	local sum
	sum=$(md5sum <"$WWW/ml-latest-small.zip" | cut -d' ' -f1)
	rm -f "$WWW/ml-latest-small.zip.md5"
	fetch --dataset ml-latest-small
	[ "$status" -eq 69 ]
	grep -q "ml-latest-small.zip.md5: HTTP 404" "$TMP/err"
	printf 'MD5 (ml-latest-small.zip) = %s\n' "$sum" >"$WWW/ml-latest-small.zip.md5"
	fetch --dataset ml-latest-small
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/out")" -eq 6000 ]
	[ -f "$TMP/home/cache/ml-latest-small.zip" ]
	# GroupLens regenerated it: the new sum refuses the cached copy and the download
	printf '%s  ml-latest-small.zip\n' 0123456789abcdef0123456789abcdef >"$WWW/ml-latest-small.zip.md5"
	WANT="expected 0123456789abcdef0123456789abcdef" refused --dataset ml-latest-small
	grep -q "cache/ml-latest-small.zip: MD5 is $sum" "$TMP/err"
	printf 'no sum here\n' >"$WWW/ml-latest-small.zip.md5"
	WANT="ml-latest-small.zip.md5: no MD5" refused --dataset ml-latest-small
	rm -f "$WWW/ml-latest-small.zip.md5"
}

@test "a corrupt member of a big release's zip fails at its CRC, leaving no output" {
	cp "$WWW/ml-25m.zip" "$TMP/bad.zip"
	# flip a byte in the middle of ratings.csv's compressed data
	off=$(python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); i = z.getinfo("ml-25m/ratings.csv")
print(i.header_offset + 30 + len(i.filename) + len(i.extra) + i.compress_size // 2)' "$TMP/bad.zip")
	printf '\x55' | dd of="$TMP/bad.zip" bs=1 seek="$off" conv=notrunc status=none
	fetch --source "$TMP/bad.zip" -o "$TMP/r.tsv" ratings
	[ "$status" -eq 65 ]
	grep -q "bad.zip" "$TMP/err"
	[ ! -e "$TMP/r.tsv" ]
}
