#include <errno.h>

#include <stasync/features.h>
#include "fsflags.h"
#include "linux.h"
#include "util.h"

static const struct {
	uint64_t feature;
	unsigned chattr;
} chattr_map[] = {
	{ STASYNC_WITH_FLAG_APPEND, STA_FS_APPEND_FL },
	{ STASYNC_WITH_FLAG_NOATIME, STA_FS_NOATIME_FL },
	{ STASYNC_WITH_FLAG_COMPR, STA_FS_COMPR_FL },
	{ STASYNC_WITH_FLAG_NOCOW, STA_FS_NOCOW_FL },
	{ STASYNC_WITH_FLAG_NODUMP, STA_FS_NODUMP_FL },
	{ STASYNC_WITH_FLAG_DIRSYNC, STA_FS_DIRSYNC_FL },
	{ STASYNC_WITH_FLAG_IMMUTABLE, STA_FS_IMMUTABLE_FL },
	{ STASYNC_WITH_FLAG_SYNC, STA_FS_SYNC_FL },
	{ STASYNC_WITH_FLAG_NOCOMP, STA_FS_NOCOMP_FL },
	{ STASYNC_WITH_FLAG_PROJINHERIT, STA_FS_PROJINHERIT_FL },
};

static const struct {
	uint64_t feature;
	uint32_t fat;
} fat_map[] = {
	{ STASYNC_WITH_FLAG_HIDDEN, STA_FAT_ATTR_HIDDEN },
	{ STASYNC_WITH_FLAG_SYSTEM, STA_FAT_ATTR_SYS },
	{ STASYNC_WITH_FLAG_ARCHIVE, STA_FAT_ATTR_ARCH },
};

uint64_t sta_chattr_to_features(unsigned chattr)
{
	uint64_t f = 0;

	for (size_t i = 0; i < ELEMENTSOF(chattr_map); i++)
		if (chattr & chattr_map[i].chattr)
			f |= chattr_map[i].feature;
	return f;
}

unsigned sta_features_to_chattr(uint64_t features)
{
	unsigned c = 0;

	for (size_t i = 0; i < ELEMENTSOF(chattr_map); i++)
		if (features & chattr_map[i].feature)
			c |= chattr_map[i].chattr;
	return c;
}

uint64_t sta_fat_to_features(uint32_t fat)
{
	uint64_t f = 0;

	for (size_t i = 0; i < ELEMENTSOF(fat_map); i++)
		if (fat & fat_map[i].fat)
			f |= fat_map[i].feature;
	return f;
}

uint32_t sta_features_to_fat(uint64_t features)
{
	uint32_t a = 0;

	for (size_t i = 0; i < ELEMENTSOF(fat_map); i++)
		if (features & fat_map[i].feature)
			a |= fat_map[i].fat;
	return a;
}

bool sta_errno_unsupported(int code)
{
	return code == -EOPNOTSUPP || code == -ENOTTY || code == -ENOSYS || code == -EINVAL;
}
