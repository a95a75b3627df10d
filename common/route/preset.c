/*
 * preset.c: the routing presets by name.
 */

#include <string.h>

#include "common/route/preset.h"

static const char *const route_preset_names[FG_PRESET_COUNT] = {
    [FG_PRESET_BALANCED]    = "balanced",
    [FG_PRESET_SPEED]       = "speed",
    [FG_PRESET_PRICE]       = "price",
    [FG_PRESET_QUALITY]     = "quality",
    [FG_PRESET_ENVIRONMENT] = "environment",
};

fg_preset_t
fg_route_preset_parse(const char *name, size_t len)
{
    int p;

    for (p = 0; p < FG_PRESET_COUNT; p++) {
        if (strlen(route_preset_names[p]) == len
            && memcmp(route_preset_names[p], name, len) == 0) {
            return (fg_preset_t) p;
        }
    }
    return FG_PRESET_UNSET;
}

const char *
fg_route_preset_name(fg_preset_t preset)
{
    if (preset < 0 || preset >= FG_PRESET_COUNT) {
        return "unset";
    }
    return route_preset_names[preset];
}
