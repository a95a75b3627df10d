#ifndef FG_ROUTE_PRESET_H
#define FG_ROUTE_PRESET_H

/*
 * The routing presets by name (docs/routing.md): what a request's
 * "preset", a key's default and the router share. No dependencies, so
 * validation and the key store may use it without the router.
 */

#include <stddef.h>

typedef enum {
    FG_PRESET_BALANCED = 0,
    FG_PRESET_SPEED,
    FG_PRESET_PRICE,
    FG_PRESET_QUALITY,
    FG_PRESET_ENVIRONMENT,
    FG_PRESET_COUNT,
    FG_PRESET_UNSET = -1           /* the key's default, else balanced */
} fg_preset_t;

/* "balanced", "speed", ...: the preset @name names (@len bytes), or
 * FG_PRESET_UNSET. */
fg_preset_t fg_route_preset_parse(const char *name, size_t len);

/* The preset's name ("unset" for FG_PRESET_UNSET). Static storage. */
const char *fg_route_preset_name(fg_preset_t preset);

#endif
