#ifndef FG_COMMON_IMPACT_DATA_H
#define FG_COMMON_IMPACT_DATA_H

/*
 * The data the impact model needs, from three tables in one folder
 * (etc/impact/ as shipped; docs/impact.md describes them):
 *
 *   countries.json  grid carbon intensity, renewable share and off-site
 *                   water intensity per country (ISO 3166 alpha-2, and
 *                   "WORLD" for an unknown location)
 *   providers.json  PUE, on-site WUE and country of each provider
 *   models.json     active and total parameters of each model (a number,
 *                   or [min, max] for a closed model's estimate), or a
 *                   size class when nothing is published; weight bits
 *
 * Each file is {"description"?: "...", "sources": [...], "<table>": [...]}
 * and is parsed strictly: an unknown field, a duplicate id or a value out
 * of range refuses the load with an error naming the file and the entry.
 * A model entry may carry "aliases", so the several catalog ids of one
 * model share one line of data.
 *
 * The loaded tables are immutable; fg_impact_data_free() releases them.
 * Look-ups are hashed (common/base/idindex.h) and allocate nothing.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/accounts/impact.h"

typedef struct fg_impact_data_s fg_impact_data_t;

typedef struct {
    char   *code;                 /* "SE", ..., or "WORLD" */
    char   *name;
    double  ci_g_per_kwh;         /* used: EcoLogits mix, lifecycle */
    double  ci_em_g_per_kwh;      /* Electricity Maps 2024, for reference;
                                     -1 when the table has none */
    double  renewable_percent;    /* grid, location-based */
    double  carbon_free_percent;  /* -1 when the table has none */
    double  wue_grid_l_per_kwh;   /* water consumed per kWh generated */
} fg_impact_country_t;

typedef struct {
    char                      *id;
    fg_impact_range_t          pue;
    fg_impact_range_t          wue_site_l_per_kwh;
    const fg_impact_country_t *country;    /* borrowed from the tables */
    int                        is_assumed; /* figures are not published */
} fg_impact_provider_t;

typedef enum {
    FG_IMPACT_SIZE_NONE = 0,      /* parameters are given */
    FG_IMPACT_SIZE_SMALL,         /* dense 1-10 B */
    FG_IMPACT_SIZE_MEDIUM,        /* dense 10-40 B */
    FG_IMPACT_SIZE_LARGE,         /* dense 40-150 B */
    FG_IMPACT_SIZE_XLARGE,        /* MoE, 150-700 B total, 30-140 B active */
    FG_IMPACT_SIZE__COUNT
} fg_impact_size_class_t;

typedef struct {
    char                  *id;
    char                 **aliases;     /* NULL-terminated, maybe empty */
    fg_impact_range_t      active_b;    /* from the size class if any */
    fg_impact_range_t      total_b;
    int                    quant_bits;  /* 16 unless the table says */
    fg_impact_size_class_t size_class;
    int                    is_demo;     /* made-up figures for a demo model */
} fg_impact_model_t;

/* What one request used, as the upstream's usage reports it. */
typedef struct {
    int64_t prompt_tokens;
    int64_t cached_tokens;        /* prompt tokens served from cache */
    int64_t completion_tokens;    /* incl. reasoning, as OpenAI counts */
    double  measured_s;           /* upstream wall time; <= 0: unknown */
} fg_impact_usage_t;

/*
 * Loads countries.json, providers.json and models.json from @dir and
 * checks that every id in @model_ids (@n_models of them: the catalog's
 * models) and in @provider_ids (the catalog's providers) has an entry, so
 * a catalog model without parameters or size class is refused here, at
 * load, not at its first request. Returns an owned table set
 * (fg_impact_data_free), or NULL with @err naming the file, the entry and
 * what is wrong. Master or tests; reads files, so not in a worker loop.
 */
fg_impact_data_t *fg_impact_data_load(const char *dir,
                                      const char *const *model_ids,
                                      size_t n_models,
                                      const char *const *provider_ids,
                                      size_t n_providers, fg_err_t *err);

/* Accepts NULL. */
void fg_impact_data_free(fg_impact_data_t *data);

/* Borrowed from @data; NULL when unknown. A model is found by its id or
 * any of its aliases. */
const fg_impact_model_t *fg_impact_data_model(const fg_impact_data_t *data,
                                              const char *id);
const fg_impact_provider_t *
fg_impact_data_provider(const fg_impact_data_t *data, const char *id);
const fg_impact_country_t *
fg_impact_data_country(const fg_impact_data_t *data, const char *code);

/*
 * The parameter ranges of size class @name ("small", "medium", "large",
 * "xlarge") into @active_b and @total_b. Returns the class, or
 * FG_IMPACT_SIZE_NONE (outputs untouched) for any other name. Cannot fail.
 */
fg_impact_size_class_t fg_impact_size_class(const char *name,
                                            fg_impact_range_t *active_b,
                                            fg_impact_range_t *total_b);

/*
 * The impact of a request for catalog model @model_id served by
 * @provider_id with @usage, under @flags (FG_IMPACT_PREFILL,
 * FG_IMPACT_WATER_PHYSICAL). The figures are marked estimated when the
 * model's parameters are a range, a size class or made up for the demo,
 * or the provider's figures are assumed. The location to report is
 * fg_impact_data_provider(data, provider_id)->country->code.
 * Returns FG_OK, or FG_ERR with @err set (FG_E_NOT_FOUND for a model or
 * provider without data); @out is zeroed on error. Pure: no I/O, no
 * allocation; any process.
 */
int fg_impact_data_estimate(const fg_impact_data_t *data,
                            const char *model_id, const char *provider_id,
                            const fg_impact_usage_t *usage, unsigned flags,
                            fg_impact_t *out, fg_err_t *err);

/*
 * fg_impact_data_estimate() for an endpoint that overrides its provider's
 * data-centre country (@country, an ISO code in the countries table; NULL:
 * the provider's) and PUE (@pue > 0; 0: the provider's). The location to
 * report is then @country. Same errors (FG_E_NOT_FOUND also for an
 * unknown @country); pure.
 */
int fg_impact_data_estimate_at(const fg_impact_data_t *data,
                               const char *model_id, const char *provider_id,
                               const char *country, double pue,
                               const fg_impact_usage_t *usage,
                               unsigned flags, fg_impact_t *out,
                               fg_err_t *err);

#endif
