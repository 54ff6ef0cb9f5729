/* gcrypt-probe — what the static libgcrypt of scripts/build-static.sh was
 * built with, and how fast it hashes, on the machine (or emulator) it runs on.
 *
 *   gcrypt-probe config              GCRYCTL_PRINT_CONFIG: version, cpu-arch,
 *                                    mpi-asm, hwflist (the CPU features found
 *                                    at run time and used), ...
 *   gcrypt-probe hwflist             only the hwflist, one line
 *   gcrypt-probe speed MIB [HWF...]  SHA-512/256 and SHA-256 over MIB MiB,
 *                                    one line each: "ALGO MB/s"; the hardware
 *                                    features named are disabled first
 *                                    (GCRYCTL_DISABLE_HWF, e.g. arm-sha2), to
 *                                    compare the assembly with the C code
 *   gcrypt-probe digest ALGO FILE    hex digest of FILE (ALGO: sha512-256, sha256)
 *
 * Built by tests/static/t0006-gcrypt.sh against the cached prefix, for the
 * architecture under test, and run there (under qemu-user for ARM). Exit 0,
 * 1 on errors, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gcrypt.h>

static int algo_by_name(const char *name)
{
	if (strcmp(name, "sha512-256") == 0)
		return GCRY_MD_SHA512_256;
	if (strcmp(name, "sha256") == 0)
		return GCRY_MD_SHA256;
	return 0;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int speed(int algo, const char *name, size_t mib)
{
	static unsigned char block[1 << 20];
	gcry_md_hd_t h;
	double t0, t;
	size_t i;

	for (i = 0; i < sizeof(block); i++)
		block[i] = (unsigned char)(i * 7 + (i >> 9));
	if (gcry_md_open(&h, algo, 0))
		return 1;
	t0 = seconds();
	for (i = 0; i < mib; i++)
		gcry_md_write(h, block, sizeof(block));
	(void)gcry_md_read(h, algo);
	t = seconds() - t0;
	gcry_md_close(h);
	printf("%s %.1f MB/s\n", name, t > 0 ? (double)mib * 1048576 / t / 1e6 : 0.0);
	return 0;
}

static int digest(int algo, const char *path)
{
	unsigned char buf[65536];
	const unsigned char *d;
	gcry_md_hd_t h;
	unsigned int i, n;
	size_t got;
	FILE *f;
	int bad;

	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	if (gcry_md_open(&h, algo, 0)) {
		fclose(f);
		return 1;
	}
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		gcry_md_write(h, buf, got);
	bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "%s: read error\n", path);
		gcry_md_close(h);
		return 1;
	}
	d = gcry_md_read(h, algo);
	n = gcry_md_get_algo_dlen(algo);
	for (i = 0; i < n; i++)
		printf("%02x", d[i]);
	printf("\n");
	gcry_md_close(h);
	return 0;
}

int main(int argc, char **argv)
{
	int i, r = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: gcrypt-probe config|hwflist|speed MIB [HWF...]|digest ALGO FILE\n");
		return 2;
	}
	/* features to disable must be named before the library initialises */
	if (strcmp(argv[1], "speed") == 0)
		for (i = 3; i < argc; i++)
			if (gcry_control(GCRYCTL_DISABLE_HWF, argv[i], NULL)) {
				fprintf(stderr, "unknown hardware feature %s\n", argv[i]);
				return 2;
			}
	if (!gcry_check_version("1.9.0")) {
		fprintf(stderr, "libgcrypt too old: %s\n", gcry_check_version(NULL));
		return 1;
	}
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);

	if (strcmp(argv[1], "config") == 0) {
		gcry_control(GCRYCTL_PRINT_CONFIG, stdout);
	} else if (strcmp(argv[1], "hwflist") == 0) {
		char *s = gcry_get_config(0, "hwflist");

		printf("%s", s ? s : "hwflist:\n");
		gcry_free(s);
	} else if (strcmp(argv[1], "speed") == 0 && argc >= 3) {
		size_t mib = (size_t)strtoul(argv[2], NULL, 10);

		r = speed(GCRY_MD_SHA512_256, "sha512-256", mib) ||
		    speed(GCRY_MD_SHA256, "sha256", mib);
	} else if (strcmp(argv[1], "digest") == 0 && argc == 4 && algo_by_name(argv[2])) {
		r = digest(algo_by_name(argv[2]), argv[3]);
	} else {
		fprintf(stderr, "usage: gcrypt-probe config|hwflist|speed MIB [HWF...]|digest ALGO FILE\n");
		return 2;
	}
	if (fflush(stdout) || ferror(stdout))
		return 1;
	return r ? 1 : 0;
}
