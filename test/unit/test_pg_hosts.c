/* test_pg_hosts.c — lib/pg_hosts: parsing multi-host URLs, and every host
 * tried before giving up (ports nothing listens on refuse at once). The
 * spreading and failover over live servers are in test/bats/replicas.bats. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pg_hosts.h"
#include "tap.h"
#include "util.h"

TEST(counts_hosts)
{
	lf_error err = {0};
	CHECK(pg_hosts_count("postgresql://u@h1:5432/db", &err) == 1);
	CHECK(pg_hosts_count("postgresql:///db", &err) == 1);
	CHECK(pg_hosts_count("postgresql://u@h1:1,h2:2,h3:3/db?target_session_attrs=prefer-standby",
			     &err) == 3);
	CHECK(pg_hosts_count("host=a,b port=1,2 dbname=x", &err) == 2);
	CHECK(pg_hosts_count("host=a,b port=5432 dbname=x", &err) == 2);
}

TEST(rejects_bad_urls)
{
	lf_error err = {0};
	CHECK(pg_hosts_count("host=a,b,c port=1,2 dbname=x", &err) == -1 && err.code == EX_USAGE);
	lf_error e2 = {0};
	CHECK(pg_hosts_count("postgresql://u@h:1/db?nosuchoption=1", &e2) == -1 && e2.code == EX_USAGE);
	char many[512] = "host=";
	for (int i = 0; i <= PG_HOSTS_MAX; i++)
		strcat(many, i ? ",h" : "h");
	lf_error e3 = {0};
	CHECK(pg_hosts_count(many, &e3) == -1 && e3.code == EX_USAGE && strstr(e3.msg, "more than"));
	lf_error e4 = {0};
	CHECK(pg_hosts_connect("host=a,b,c port=1,2 dbname=x", NULL, NULL, &e4) == NULL &&
	      e4.code == EX_USAGE);
}

/* A port on 127.0.0.1 that refuses: bound and closed again. */
static int refusing_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

TEST(every_host_refusing_is_unavailable_at_once)
{
	char url[256];
	int p1 = refusing_port(), p2 = refusing_port(), p3 = refusing_port();
	CHECK(p1 > 0 && p2 > 0 && p3 > 0);
	snprintf(url, sizeof url,
		 "postgresql://u@127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/db?target_session_attrs=prefer-standby",
		 p1, p2, p3);
	const char *keys[] = {"connect_timeout", NULL}, *vals[] = {"2", NULL};
	lf_error err = {0};
	double t0 = now_seconds();
	CHECK(pg_hosts_connect(url, keys, vals, &err) == NULL);
	CHECK(err.code == EX_UNAVAILABLE);
	CHECK(strstr(err.msg, "no database host answered") != NULL);
	CHECK(strchr(err.msg, '\n') == NULL);
	CHECK(now_seconds() - t0 < 1.0);
}

int main(void)
{
	RUN(counts_hosts);
	RUN(rejects_bad_urls);
	RUN(every_host_refusing_is_unavailable_at_once);
	return tap_done();
}
