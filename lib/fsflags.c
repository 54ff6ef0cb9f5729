#include <errno.h>

#include <stasync/features.h>
#include "fsflags.h"
#include "linux.h"
#include "util.h"

/* Which archive feature bit stands for which file-system bit. */
struct flag_map {
	uint64_t feature;
	uint32_t bit;
};

static const struct flag_map chattr_map[] = {
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

static const struct flag_map fat_map[] = {
	{ STASYNC_WITH_FLAG_HIDDEN, STA_FAT_ATTR_HIDDEN },
	{ STASYNC_WITH_FLAG_SYSTEM, STA_FAT_ATTR_SYS },
	{ STASYNC_WITH_FLAG_ARCHIVE, STA_FAT_ATTR_ARCH },
};

static uint64_t to_features(const struct flag_map *m, size_t n, uint32_t bits)
{
	uint64_t f = 0;

	for (size_t i = 0; i < n; i++)
		if (bits & m[i].bit)
			f |= m[i].feature;
	return f;
}

static uint32_t from_features(const struct flag_map *m, size_t n, uint64_t features)
{
	uint32_t bits = 0;

	for (size_t i = 0; i < n; i++)
		if (features & m[i].feature)
			bits |= m[i].bit;
	return bits;
}

uint64_t sta_chattr_to_features(unsigned chattr)
{
	return to_features(chattr_map, ELEMENTSOF(chattr_map), chattr);
}

unsigned sta_features_to_chattr(uint64_t features)
{
	return from_features(chattr_map, ELEMENTSOF(chattr_map), features);
}

uint64_t sta_fat_to_features(uint32_t fat)
{
	return to_features(fat_map, ELEMENTSOF(fat_map), fat);
}

uint32_t sta_features_to_fat(uint64_t features)
{
	return from_features(fat_map, ELEMENTSOF(fat_map), features);
}

bool sta_errno_unsupported(int code)
{
	return code == -EOPNOTSUPP || code == -ENOTTY || code == -ENOSYS || code == -EINVAL;
}

unsigned stasync_entry_flags_to_chattr(uint64_t flags)
{
	return sta_features_to_chattr(flags);
}

uint32_t stasync_entry_flags_to_fat(uint64_t flags)
{
	return sta_features_to_fat(flags);
}
