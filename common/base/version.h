#ifndef FG_COMMON_VERSION_H
#define FG_COMMON_VERSION_H

/* The release, shown by -v, the logs and the admin status endpoint. */
#define FG_VERSION "0.2.0"

#endif
