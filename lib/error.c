#include <string.h>

#include <stasync/error.h>
#include "util.h"

void stasync_error_clear(stasync_error *e)
{
	if (!e)
		return;
	e->code = 0;
	e->message[0] = 0;
}

const char *stasync_strerror(int code)
{
	switch (-code) {
	case 0:
		return "success";
	case EBADMSG:
		return "malformed data";
	case ERANGE:
		return "value out of range";
	default:
		return strerror(-code);
	}
}
