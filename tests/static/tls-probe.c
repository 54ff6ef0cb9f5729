/* tls-probe — one HTTPS GET through the static libcurl + mbedTLS, the way
 * stasync's HTTP store will use them, until that store exists.
 *
 *   tls-probe URL CAFILE [HOST:PORT:ADDRESS]
 *
 * Verifies the peer against CAFILE only (no compiled-in CA path), checks the
 * host name, ignores proxy variables; the optional third argument pins a
 * name to an address (CURLOPT_RESOLVE). Prints "ok HTTP-CODE BYTES" and exits
 * 0, or "error CURLcode: message" and exits 1 (60: the certificate did not
 * verify). Built by tests/static/t0004-tls.sh against the cached prefix of
 * scripts/build-static.sh, and linked there to measure what libcurl and
 * mbedTLS add to a static binary (--size-report). */
#include <stdio.h>
#include <curl/curl.h>

static size_t count_bytes(char *data, size_t size, size_t n, void *user)
{
	(void)data;
	*(size_t *)user += size * n;
	return size * n;
}

int main(int argc, char **argv)
{
	struct curl_slist *resolve = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t bytes = 0;
	long code = 0;
	CURLcode r;
	CURL *h;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: tls-probe URL CAFILE [HOST:PORT:ADDRESS]\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	h = curl_easy_init();
	if (!h)
		return 1;
	if (argc == 4) {
		resolve = curl_slist_append(NULL, argv[3]);
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	}
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count_bytes);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bytes);
	r = curl_easy_perform(h);
	if (r == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		printf("ok %ld %zu\n", code, bytes);
	} else {
		printf("error %d: %s\n", (int)r, errbuf[0] ? errbuf : curl_easy_strerror(r));
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(resolve);
	curl_global_cleanup();
	return r == CURLE_OK ? 0 : 1;
}
