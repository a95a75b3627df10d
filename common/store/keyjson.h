#ifndef FG_COMMON_KEYJSON_H
#define FG_COMMON_KEYJSON_H

/*
 * Key records as JSON, in two shapes:
 *
 *   store  every field, the hash in hex, times in milliseconds: what the
 *          durable store writes and reads back (never shown to anyone).
 *   view   the admin API's key object (docs/admin-api.md): no hash, times
 *          in seconds, status as a word.
 *
 * And the admin API's create/update bodies applied onto a record, with
 * every field checked. Library code: no logging; errors via fg_err_t,
 * whose param names the offending field. Returned json_t references are
 * new: the caller decrefs them.
 *
 * The key's routing preset (kr_preset) is its name in both shapes
 * ("preset": "price"); none is no member in the store shape (so records
 * from before presets load with none) and null in the view and bodies.
 * Its default transforms (kr_transforms) are a list of names in both
 * shapes ("transforms": ["middle-out"]); none is no member in the store
 * shape (so records from before them load with none) and [] in the view,
 * which always has the member; a body clears them with [] or null. A body's
 * list is strict: an array of at most FG_KEY_TRANSFORMS_LIST_MAX strings,
 * each a known name, none repeated.
 */

#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/accounts/keytable.h"

/* Upper bounds of what an admin may set (they keep sums far from
 * overflow: 10^15 micro-units is a billion credits). */
#define FG_KEYJSON_LIMIT_MAX    1000000000000LL
#define FG_KEYJSON_ENERGY_MAX   1000000000000000LL

/* The store shape of @rec. Never NULL (aborts on out-of-memory). */
json_t *fg_keyjson_store(const fg_key_record_t *rec);

/*
 * Fills @rec from the store shape @obj and validates it. Returns FG_OK,
 * or FG_ERR with @err set and @rec unspecified.
 */
int fg_keyjson_from_store(const json_t *obj, fg_key_record_t *rec,
                          fg_err_t *err);

/*
 * The API view of @rec; @previous_valid_until_ms > 0 is shown as
 * previous_secret_valid_until (a rotated-out secret still in its grace).
 * Never NULL.
 */
json_t *fg_keyjson_view(const fg_key_record_t *rec,
                        int64_t previous_valid_until_ms);

/*
 * Applies an admin body onto @rec: on create (@is_create) "name" is
 * required; on update every field is optional and "limits" and "energy"
 * may be partial. Unknown fields, wrong types and values out of range are
 * refused. All or nothing: on FG_ERR @rec is unchanged. Sets
 * kr_updated_ms to @now_ms on success.
 */
int fg_keyjson_apply(fg_key_record_t *rec, const json_t *body, int is_create,
                     int64_t now_ms, fg_err_t *err);

/* "active", "revoked" or "rotated"; "unknown" for anything else. */
const char *fg_keyjson_status_name(uint32_t status);

#endif
