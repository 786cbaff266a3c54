/*
 * dataset.c — GroupLens' MovieLens releases: name, archive and published MD5.
 *
 * The MD5s are those GroupLens publishes beside each archive as <zip>.md5.
 * ml-latest-small is a development release that GroupLens regenerates, so
 * its MD5 is not a constant: ml-fetch reads ml-latest-small.zip.md5 from
 * beside the archive each time and checks the download (and the cached
 * copy) against it.
 */
#include <string.h>

#include "fetch.h"

static const release releases[] = {
	{"ml-100k", "ml-100k.zip", "0e33842e24a9c977be4e0107933c0723", KIND_100K},
	{"ml-1m", "ml-1m.zip", "c4d9eecfca2ab87c1945afe126590906", KIND_1M},
	{"ml-10m", "ml-10m.zip", "ce571fd55effeba0271552578f2648bd", KIND_10M},
	{"ml-20m", "ml-20m.zip", "cd245b17a1ae2cc31bb14903e1204af3", KIND_CSV},
	{"ml-25m", "ml-25m.zip", "6b51fb2759a8657d3bfcbfc42b592ada", KIND_CSV},
	{"ml-32m", "ml-32m.zip", "d472be332d4daa821edc399621853b57", KIND_CSV},
	{"ml-latest-small", "ml-latest-small.zip", NULL, KIND_CSV},
};

#define N_RELEASES (sizeof releases / sizeof releases[0])

const release *release_find(const char *name)
{
	for (size_t i = 0; i < N_RELEASES; i++)
		if (strcmp(name, releases[i].name) == 0)
			return &releases[i];
	return NULL;
}

const release *release_of_url(const char *url, const char *base)
{
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	if (strncmp(url, base, bl) != 0 || url[bl] != '/')
		return NULL;
	for (size_t i = 0; i < N_RELEASES; i++)
		if (strcmp(url + bl + 1, releases[i].zip) == 0)
			return &releases[i];
	return NULL;
}

const char *kind_name(release_kind k)
{
	switch (k) {
	case KIND_100K: return "ML-100K's (u.data, u.item)";
	case KIND_1M: return "ML-1M's (ratings.dat, movies.dat, users.dat)";
	case KIND_10M: return "ML-10M's (ratings.dat, movies.dat)";
	case KIND_CSV: return "the CSV releases' (ratings.csv, movies.csv)";
	}
	return "unknown";
}

const char *release_names(void)
{
	return "ml-100k ml-1m ml-10m ml-20m ml-25m ml-32m ml-latest-small";
}
