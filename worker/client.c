/*
 * client.c: the real client behind a trusted proxy, from X-Forwarded-For
 * (see client.h).
 */

#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/accounts/clientconns.h"
#include "worker/client.h"
#include "worker/worker.h"

/*
 * The client named by the X-Forwarded-For fields of @head: the rightmost
 * hop outside @trusted, else the leftmost hop. Returns 1 with @out set,
 * or 0 when there is no usable hop.
 */
static int
client_forwarded(const fg_http_head_t *head, const fg_cidr_set_t *trusted,
                 struct sockaddr_storage *out)
{
    static const char name[] = "x-forwarded-for";
    struct sockaddr_storage hop;
    const char             *v, *end, *comma;
    int                     i, found = 0;

    for (i = head->field_count - 1; i >= 0; i--) {
        const fg_http_field_t *f = &head->fields[i];

        if (f->name_len != sizeof(name) - 1
            || strncasecmp(f->name, name, sizeof(name) - 1) != 0) {
            continue;
        }
        v = f->value;
        end = f->value + f->value_len;
        while (end > v) {
            comma = end;
            while (comma > v && comma[-1] != ',') {
                comma--;
            }
            if (fg_cidr_addr_parse(comma, (size_t) (end - comma), &hop)
                != FG_OK) {
                return found;   /* not an address: trust stops here */
            }
            *out = hop;
            found = 1;
            if (!fg_cidr_match(trusted, (struct sockaddr *) &hop)) {
                return 1;
            }
            end = comma > v ? comma - 1 : v;
        }
    }
    return found;
}

int
fg_client_admit(fg_req_t *req, const fg_http_head_t *head,
                const struct sockaddr *peer, fg_err_t *err)
{
    fg_worker_t            *w = req->worker;
    fg_clientconns_t       *cc = w->wc->shm->clients;
    struct sockaddr_storage client;
    uint64_t                id, total;
    int64_t                 entry;
    const void             *a;

    if (w->trusted.count == 0 || !fg_cidr_match(&w->trusted, peer)
        || !client_forwarded(head, &w->trusted, &client)) {
        return FG_OK;
    }
    a = client.ss_family == AF_INET
        ? (const void *) &((struct sockaddr_in *) (void *) &client)->sin_addr
        : (const void *) &((struct sockaddr_in6 *) (void *) &client)
              ->sin6_addr;
    memset(req->client_addr, 0, sizeof(req->client_addr));
    inet_ntop(client.ss_family, a, req->client_addr,
              sizeof(req->client_addr));
    if (w->conf->max_connections_per_client == 0 || cc == NULL) {
        return FG_OK;
    }
    id = fg_clientconns_client(cc, (struct sockaddr *) &client);
    entry = fg_clientconns_take(cc, w->wc->slot, id, &total);
    if (total > (uint64_t) w->conf->max_connections_per_client) {
        if (entry >= 0) {
            fg_clientconns_give(cc, entry);
        }
        return fg_err_set(err, FG_E_SERVICE_UNAVAILABLE, NULL, "too many "
                          "connections from this address (limit %lld); "
                          "close some or retry later",
                          (long long) w->conf->max_connections_per_client);
    }
    req->client_conn_entry = entry + 1;   /* 0: none */
    return FG_OK;
}

void
fg_client_release(fg_req_t *req)
{
    if (req->client_conn_entry > 0) {
        fg_clientconns_give(req->worker->wc->shm->clients,
                            req->client_conn_entry - 1);
        req->client_conn_entry = 0;
    }
}
