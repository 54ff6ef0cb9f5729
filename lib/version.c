#include <stasync/stasync.h>

const char *stasync_version(void)
{
	return PACKAGE_VERSION;
}
