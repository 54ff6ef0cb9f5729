/* Functions that invite buffer overflows: using one is a compile error.
 * Use snprintf, memcpy with an explicit bound, or the helpers in util.h. */
#ifndef STASYNC_LIB_BANNED_H
#define STASYNC_LIB_BANNED_H

#define BANNED(f) sorry_##f##_is_banned_in_stasync

#undef strcpy
#define strcpy(a, b) BANNED(strcpy)
#undef strcat
#define strcat(a, b) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(a) BANNED(gets)

#endif
