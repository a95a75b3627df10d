/*
 * store.c: the store interface's dispatch; each kind of store (store_file.c,
 * later Redis) fills an fg_store_ops_t.
 */

#include <stddef.h>

#include "common/store/store.h"

int
fg_store_load(fg_store_t *s, fg_store_visit_cb cb, void *arg, fg_err_t *err)
{
    return s->ops->load(s, cb, arg, err);
}

int
fg_store_commit(fg_store_t *s, const fg_store_change_t *ch, int64_t now_ms,
                fg_err_t *err)
{
    return s->ops->commit(s, ch, now_ms, err);
}

int
fg_store_compact(fg_store_t *s, const fg_store_change_t *all, size_t n,
                 int64_t now_ms, fg_err_t *err)
{
    return s->ops->compact(s, all, n, now_ms, err);
}

void
fg_store_info(const fg_store_t *s, fg_store_info_t *out)
{
    s->ops->info(s, out);
}

void
fg_store_close(fg_store_t *s)
{
    if (s != NULL) {
        s->ops->close(s);
    }
}
