/*
 * catalog.c: loads the provider and model catalogs.
 *
 * Both files are parsed strictly (jansson's "!" unpack: an unknown field is
 * an error naming the entry), so a typo in a price or a timeout never turns
 * silently into a default. Provider keys come only from the environment
 * variable the catalog names: the catalog file itself holds no secret, and a
 * tenant can never name a base URL (validate refuses such fields).
 *
 * Look-ups go through hash indexes built as the files load: providers by
 * id, models by id, and models by "provider/id" and "provider/upstream_id",
 * the very text of a request that names a model through its provider. So
 * routing costs one or two hashes of the requested name, however large
 * the catalog.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/catalog.h"

static int catalog_load_providers(fg_catalog_t *cat, const char *path,
                                  fg_err_t *err);
static int catalog_load_models(fg_catalog_t *cat, const char *path,
                               fg_err_t *err);
static json_t *catalog_load_array(const char *path, const char *key,
                                  fg_err_t *err);
static void catalog_index_model(fg_catalog_t *cat, size_t i);
static int catalog_model_tokens(fg_model_t *m, json_t *tokens,
                                const char *path, size_t i, fg_err_t *err);
static const fg_model_t *catalog_model_at(const fg_catalog_t *cat,
                                          size_t i);

static json_t *
catalog_load_array(const char *path, const char *key, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *root, *arr;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fg_err_set(err, FG_E_INVALID_JSON, NULL, "%s:%d:%d: %s", path,
                   jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    arr = json_object_get(root, key);
    if (!json_is_object(root) || !json_is_array(arr)
        || json_object_size(root) != 1) {
        json_decref(root);
        fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                   "%s: expected {\"%s\": [...]} and nothing else", path,
                   key);
        return NULL;
    }
    json_incref(arr);
    json_decref(root);
    return arr;
}

static int
catalog_load_providers(fg_catalog_t *cat, const char *path, fg_err_t *err)
{
    json_t      *arr, *item, *headers = NULL, *hv;
    json_error_t jerr;
    size_t       i, h;
    const char  *id, *name = NULL, *base_url, *base_url_env = NULL;
    const char  *key_env = NULL, *hname, *env;
    json_int_t   connect_ms = 5000, first_byte_ms = 60000, idle_ms = 60000;
    json_int_t   total_ms = 600000, rpm = 0, tpm = 0;

    arr = catalog_load_array(path, "providers", err);
    if (arr == NULL) {
        return FG_ERR;
    }
    cat->providers = fg_xcalloc(json_array_size(arr) + 1,
                                sizeof(fg_provider_t));
    json_array_foreach(arr, i, item) {
        fg_provider_t *p = &cat->providers[i];

        name = NULL;
        base_url_env = NULL;
        key_env = NULL;
        headers = NULL;
        connect_ms = 5000;
        first_byte_ms = 60000;
        idle_ms = 60000;
        total_ms = 600000;
        rpm = 0;
        tpm = 0;
        if (json_unpack_ex(item, &jerr, 0,
                           "{s:s, s?s, s:s, s?s, s?s, s?o,"
                           " s?{s?I, s?I, s?I, s?I !},"
                           " s?{s?I, s?I !} !}",
                           "id", &id, "name", &name, "base_url", &base_url,
                           "base_url_env", &base_url_env,
                           "key_env", &key_env, "headers", &headers,
                           "timeouts", "connect_ms", &connect_ms,
                           "first_byte_ms", &first_byte_ms,
                           "idle_ms", &idle_ms, "total_ms", &total_ms,
                           "limits", "requests_per_min", &rpm,
                           "tokens_per_min", &tpm)
            != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: providers[%zu]: %s",
                       path, i, jerr.text);
            goto fail;
        }
        if (!fg_idindex_add(&cat->providers_by_id, id, i)) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu]: duplicate id \"%s\"", path, i, id);
            goto fail;
        }
        if (rpm < 0 || tpm < 0) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: providers[%zu]: limits must be >= 0", path, i);
            goto fail;
        }
        if (connect_ms < 1 || first_byte_ms < 1 || idle_ms < 1
            || total_ms < 1) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: providers[%zu]: timeouts must be >= 1 ms", path,
                       i);
            goto fail;
        }
        p->id = fg_xstrdup(id);
        p->name = fg_xstrdup(name ? name : id);
        env = base_url_env ? getenv(base_url_env) : NULL;
        p->base_url = fg_xstrdup(env && env[0] ? env : base_url);
        while (strlen(p->base_url) > 0
               && p->base_url[strlen(p->base_url) - 1] == '/') {
            p->base_url[strlen(p->base_url) - 1] = '\0';
        }
        if (strncmp(p->base_url, "http://", 7) != 0
            && strncmp(p->base_url, "https://", 8) != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: providers[%zu]: base_url must be http(s)://",
                       path, i);
            cat->provider_count = i + 1;
            goto fail;
        }
        p->key_env = key_env ? fg_xstrdup(key_env) : NULL;
        env = key_env ? getenv(key_env) : NULL;
        p->api_key = env && env[0] ? fg_xstrdup(env) : NULL;
        p->is_enabled = key_env == NULL || p->api_key != NULL;
        p->requests_per_min = rpm;
        p->tokens_per_min = tpm;
        p->connect_timeout_ms = connect_ms;
        p->first_byte_timeout_ms = first_byte_ms;
        p->idle_timeout_ms = idle_ms;
        p->total_timeout_ms = total_ms;
        cat->provider_count = i + 1;
        if (headers != NULL && !json_is_object(headers)) {
            fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                       "%s: providers[%zu]: headers must be an object", path,
                       i);
            goto fail;
        }
        p->headers = fg_xcalloc(json_object_size(headers) + 1,
                                sizeof(char *));
        h = 0;
        json_object_foreach(headers, hname, hv) {
            char line[1024];

            if (!json_is_string(hv) || strpbrk(hname, ":\r\n") != NULL
                || strpbrk(json_string_value(hv), "\r\n") != NULL) {
                fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                           "%s: providers[%zu]: header \"%s\" is not a "
                           "single-line string", path, i, hname);
                goto fail;
            }
            snprintf(line, sizeof(line), "%s: %s", hname,
                     json_string_value(hv));
            p->headers[h++] = fg_xstrdup(line);
        }
    }
    json_decref(arr);
    return FG_OK;

fail:
    json_decref(arr);
    return FG_ERR;
}

static int
catalog_load_models(fg_catalog_t *cat, const char *path, fg_err_t *err)
{
    json_t      *arr, *item, *effort, *tokens;
    json_error_t jerr;
    size_t       i;
    const char  *id, *provider, *upstream_id, *owned_by;
    json_int_t   created, context_window, max_output, p_prompt, p_cached;
    json_int_t   p_completion, rpm, tpm;
    int          vision, tools;

    arr = catalog_load_array(path, "models", err);
    if (arr == NULL) {
        return FG_ERR;
    }
    cat->models = fg_xcalloc(json_array_size(arr) + 1, sizeof(fg_model_t));
    json_array_foreach(arr, i, item) {
        fg_model_t *m = &cat->models[i];

        upstream_id = NULL;
        owned_by = NULL;
        effort = NULL;
        tokens = NULL;
        created = 0;
        vision = 0;
        tools = 0;
        p_cached = -1;
        rpm = 0;
        tpm = 0;
        if (json_unpack_ex(item, &jerr, 0,
                           "{s:s, s:s, s?s, s?I, s?s, s:I, s:I, s?b, s?b,"
                           " s?o, s:{s:I, s?I, s:I !}, s?{s?I, s?I !},"
                           " s?o !}",
                           "id", &id, "provider", &provider,
                           "upstream_id", &upstream_id, "created", &created,
                           "owned_by", &owned_by,
                           "context_window", &context_window,
                           "max_output_tokens", &max_output,
                           "supports_vision", &vision,
                           "supports_tools", &tools,
                           "reasoning_effort", &effort,
                           "pricing",
                           "prompt_per_mtok_micro", &p_prompt,
                           "cached_prompt_per_mtok_micro", &p_cached,
                           "completion_per_mtok_micro", &p_completion,
                           "limits", "requests_per_min", &rpm,
                           "tokens_per_min", &tpm, "tokens", &tokens)
            != 0) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL, "%s: models[%zu]: %s",
                       path, i, jerr.text);
            goto fail;
        }
        m->provider = fg_catalog_provider(cat, provider);
        if (m->provider == NULL) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: models[%zu] (\"%s\"): unknown provider \"%s\"",
                       path, i, id, provider);
            goto fail;
        }
        if (context_window < 1 || max_output < 1 || p_prompt < 0
            || p_completion < 0 || rpm < 0 || tpm < 0) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                       "%s: models[%zu] (\"%s\"): windows must be >= 1, "
                       "prices and limits >= 0", path, i, id);
            goto fail;
        }
        if (effort != NULL && !json_is_array(effort)) {
            fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                       "%s: models[%zu] (\"%s\"): reasoning_effort must be "
                       "an array", path, i, id);
            goto fail;
        }
        if (catalog_model_tokens(m, tokens, path, i, err) != FG_OK) {
            goto fail;
        }
        m->id = fg_xstrdup(id);
        m->upstream_id = fg_xstrdup(upstream_id ? upstream_id : id);
        m->created = created;
        m->owned_by = fg_xstrdup(owned_by ? owned_by : provider);
        m->context_window = context_window;
        m->max_output_tokens = max_output;
        m->requests_per_min = rpm;
        m->tokens_per_min = tpm;
        m->supports_vision = vision;
        m->supports_tools = tools;
        m->reasoning_effort = effort ? json_incref(effort) : json_array();
        m->prompt_per_mtok_micro = p_prompt;
        m->cached_prompt_per_mtok_micro = p_cached < 0 ? p_prompt : p_cached;
        m->completion_per_mtok_micro = p_completion;
        cat->model_count = i + 1;
        catalog_index_model(cat, i);
    }
    json_decref(arr);
    return FG_OK;

fail:
    json_decref(arr);
    return FG_ERR;
}

/*
 * A model's "tokens": how its prompts are counted (docs/api.md,
 * "Metering"). Absent: the default profile, no tokenizer.
 *   { "tokenizer": "o200k_base",
 *     "image": { "formula": "tiles", "base": 85, "per_tile": 170 }
 *            | { "formula": "patches", "max_patches": 1536,
 *                "multiplier": 1.62 },
 *     "audio_per_second": 10, "max_token_bytes": 256 }
 */
static int
catalog_model_tokens(fg_model_t *m, json_t *tokens, const char *path,
                     size_t i, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *image = NULL;
    const char  *tokenizer = NULL, *formula = "tiles";
    json_int_t   base = 85, per_tile = 170, max_patches = 1536;
    json_int_t   audio = 10, max_token = FG_TOKCOUNT_MAX_TOKEN_BYTES;
    double       multiplier = 1.62;

    fg_token_profile_default(&m->tokens);
    if (tokens == NULL) {
        return FG_OK;
    }
    if (json_unpack_ex(tokens, &jerr, 0, "{s?s, s?o, s?I, s?I !}",
                       "tokenizer", &tokenizer, "image", &image,
                       "audio_per_second", &audio,
                       "max_token_bytes", &max_token) != 0
        || (image != NULL
            && json_unpack_ex(image, &jerr, 0,
                              "{s:s, s?I, s?I, s?I, s?F !}",
                              "formula", &formula, "base", &base,
                              "per_tile", &per_tile,
                              "max_patches", &max_patches,
                              "multiplier", &multiplier) != 0)) {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: models[%zu].tokens: %s", path, i, jerr.text);
        return FG_ERR;
    }
    if (strcmp(formula, "tiles") == 0) {
        m->tokens.image.kind = FG_IMAGE_FORMULA_TILES;
    } else if (strcmp(formula, "patches") == 0) {
        m->tokens.image.kind = FG_IMAGE_FORMULA_PATCHES;
    } else {
        fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                   "%s: models[%zu].tokens.image.formula: \"%s\" is "
                   "neither \"tiles\" nor \"patches\"", path, i, formula);
        return FG_ERR;
    }
    if (base < 0 || per_tile < 0 || max_patches < 1 || multiplier <= 0
        || multiplier > 1000 || base > 1000000 || per_tile > 1000000
        || max_patches > 1000000 || audio < 0 || audio > 100000
        || max_token < 1 || max_token > 65536) {
        fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                   "%s: models[%zu].tokens: image figures, the audio rate "
                   "and max_token_bytes must be positive and plausible "
                   "(docs/api.md, \"Metering\")", path, i);
        return FG_ERR;
    }
    m->tokens.image.base = base;
    m->tokens.image.per_tile = per_tile;
    m->tokens.image.max_patches = max_patches;
    m->tokens.image.multiplier = multiplier;
    m->tokens.audio_tokens_per_second = audio;
    m->tokens.max_token_bytes = max_token;
    if (tokenizer != NULL) {
        if (tokenizer[0] == '\0' || strspn(tokenizer,
                "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(tokenizer)
            || strlen(tokenizer) > 64) {
            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "%s: models[%zu].tokens.tokenizer: \"%.64s\" is no "
                       "tokenizer name (lower-case letters, digits, _ and -)",
                       path, i, tokenizer);
            return FG_ERR;
        }
        m->tokenizer = fg_xstrdup(tokenizer);
    }
    return FG_OK;
}

/*
 * Enters model @i in the indexes. A name already there keeps the model
 * that came first, as a scan in catalog order would find it: both names
 * of a model go in before the next model's. A provider whose id holds a
 * slash is never named by a "provider/model" request (its name ends at
 * the first slash), so its models get no qualified names: one could only
 * shadow another provider's.
 */
static void
catalog_index_model(fg_catalog_t *cat, size_t i)
{
    const fg_model_t *m = &cat->models[i];
    const char       *names[2] = { m->id, m->upstream_id };
    size_t            plen = strlen(m->provider->id), k, nlen;
    char             *qualified;

    (void) fg_idindex_add(&cat->models_by_id, m->id, i);
    if (strchr(m->provider->id, '/') != NULL) {
        return;
    }
    for (k = 0; k < 2; k++) {
        nlen = strlen(names[k]);
        qualified = fg_xmalloc(plen + 1 + nlen + 1);
        memcpy(qualified, m->provider->id, plen);
        qualified[plen] = '/';
        memcpy(qualified + plen + 1, names[k], nlen + 1);
        (void) fg_idindex_add(&cat->models_by_qualified, qualified, i);
        free(qualified);
    }
}

static const fg_model_t *
catalog_model_at(const fg_catalog_t *cat, size_t i)
{
    return i == FG_IDINDEX_NONE ? NULL : &cat->models[i];
}

fg_catalog_t *
fg_catalog_load(const char *providers_path, const char *models_path,
                fg_err_t *err)
{
    fg_catalog_t *cat = fg_xcalloc(1, sizeof(*cat));

    if (catalog_load_providers(cat, providers_path, err) != FG_OK
        || catalog_load_models(cat, models_path, err) != FG_OK) {
        fg_catalog_free(cat);
        return NULL;
    }
    return cat;
}

void
fg_catalog_free(fg_catalog_t *cat)
{
    size_t i;
    char **h;

    if (cat == NULL) {
        return;
    }
    fg_impact_data_free(cat->impact);
    for (i = 0; i < cat->tokenizer_count; i++) {
        fg_bpe_free(cat->tokenizers[i]);
    }
    free(cat->tokenizers);
    for (i = 0; i < cat->provider_count; i++) {
        fg_provider_t *p = &cat->providers[i];

        free(p->id);
        free(p->name);
        free(p->base_url);
        free(p->key_env);
        if (p->api_key != NULL) {
            memset(p->api_key, 0, strlen(p->api_key));
            free(p->api_key);
        }
        for (h = p->headers; h != NULL && *h != NULL; h++) {
            free(*h);
        }
        free(p->headers);
    }
    for (i = 0; i < cat->model_count; i++) {
        free(cat->models[i].id);
        free(cat->models[i].upstream_id);
        free(cat->models[i].owned_by);
        free(cat->models[i].tokenizer);
        json_decref(cat->models[i].reasoning_effort);
    }
    free(cat->providers);
    free(cat->models);
    fg_idindex_cleanup(&cat->providers_by_id);
    fg_idindex_cleanup(&cat->models_by_id);
    fg_idindex_cleanup(&cat->models_by_qualified);
    free(cat);
}

fg_provider_t *
fg_catalog_provider(const fg_catalog_t *cat, const char *id)
{
    size_t i = fg_idindex_find(&cat->providers_by_id, id);

    return i == FG_IDINDEX_NONE ? NULL : &cat->providers[i];
}

const fg_model_t *
fg_catalog_route(const fg_catalog_t *cat, const char *requested)
{
    const fg_model_t *m;

    m = catalog_model_at(cat, fg_idindex_find(&cat->models_by_id,
                                              requested));
    if (m == NULL && strchr(requested, '/') != NULL) {
        m = catalog_model_at(cat, fg_idindex_find(&cat->models_by_qualified,
                                                  requested));
    }
    return m != NULL && m->provider->is_enabled ? m : NULL;
}

json_t *
fg_catalog_model_json(const fg_model_t *m)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:b, s:b, s:O,"
                     " s:{s:I, s:I, s:I, s:s}, s:s*}",
                     "id", m->id, "object", "model",
                     "created", (json_int_t) m->created,
                     "owned_by", m->owned_by,
                     "context_window", (json_int_t) m->context_window,
                     "context_length", (json_int_t) m->context_window,
                     "max_output_tokens", (json_int_t) m->max_output_tokens,
                     "supports_vision", m->supports_vision,
                     "supports_tools", m->supports_tools,
                     "reasoning_effort", m->reasoning_effort,
                     "pricing",
                     "prompt_per_mtok_micro",
                     (json_int_t) m->prompt_per_mtok_micro,
                     "cached_prompt_per_mtok_micro",
                     (json_int_t) m->cached_prompt_per_mtok_micro,
                     "completion_per_mtok_micro",
                     (json_int_t) m->completion_per_mtok_micro,
                     "unit", "micro-credits per million tokens",
                     "tokenizer", m->tokenizer);
}

int
fg_catalog_attach_impact(fg_catalog_t *cat, const char *dir, unsigned flags,
                         fg_err_t *err)
{
    const char **models = fg_xcalloc(cat->model_count + 1, sizeof(char *));
    const char **providers = fg_xcalloc(cat->provider_count + 1,
                                        sizeof(char *));
    size_t       i;

    for (i = 0; i < cat->model_count; i++) {
        models[i] = cat->models[i].id;
    }
    for (i = 0; i < cat->provider_count; i++) {
        providers[i] = cat->providers[i].id;
    }
    cat->impact = fg_impact_data_load(dir, models, cat->model_count,
                                      providers, cat->provider_count, err);
    cat->impact_flags = flags;
    free(models);
    free(providers);
    return cat->impact != NULL ? FG_OK : FG_ERR;
}

int
fg_catalog_attach_tokenizers(fg_catalog_t *cat, const char *dir,
                             fg_err_t *err)
{
    size_t    i, k;
    char      path[4096];
    fg_bpe_t *bpe;
    fg_err_t  berr;

    for (i = 0; i < cat->model_count; i++) {
        fg_model_t *m = &cat->models[i];

        if (m->tokenizer == NULL) {
            continue;
        }
        bpe = NULL;
        for (k = 0; k < cat->tokenizer_count && bpe == NULL; k++) {
            if (strcmp(fg_bpe_name(cat->tokenizers[k]), m->tokenizer) == 0) {
                bpe = cat->tokenizers[k];
            }
        }
        if (bpe == NULL) {
            snprintf(path, sizeof(path), "%s/%s.json", dir, m->tokenizer);
            bpe = fg_bpe_load(path, &berr);
            if (bpe == NULL) {
                fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                           "model \"%s\": tokenizer \"%s\": %s", m->id,
                           m->tokenizer, berr.msg);
                return FG_ERR;
            }
            if (strcmp(fg_bpe_name(bpe), m->tokenizer) != 0) {
                fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                           "model \"%s\": %s names tokenizer \"%s\"",
                           m->id, path, fg_bpe_name(bpe));
                fg_bpe_free(bpe);
                return FG_ERR;
            }
            cat->tokenizers = fg_xrealloc(cat->tokenizers,
                                          (cat->tokenizer_count + 1)
                                          * sizeof(*cat->tokenizers));
            cat->tokenizers[cat->tokenizer_count++] = bpe;
        }
        m->tokens.bpe = bpe;
    }
    return FG_OK;
}
