#ifndef FG_COMMON_IMPACT_H
#define FG_COMMON_IMPACT_H

/*
 * The environmental impact of one request: energy, carbon, water, by the
 * EcoLogits bottom-up model (../shared/research/impact.md section 2,
 * docs/impact.md). Energy per output token is a linear function of the
 * model's active parameters on the H100s needed to hold its weights, plus
 * a share of the server's other power over the generation time, times the
 * datacenter's PUE; carbon and water follow from the grid of the
 * datacenter's country. One documented extension, switchable: a FLOPs
 * term for prompt tokens (prefill), which EcoLogits leaves out.
 *
 * Pure functions of their arguments: no I/O, no state, no allocation
 * except in fg_impact_json*. Doubles are fine here: impact is reported,
 * never charged (money stays integer micro-units elsewhere).
 *
 * A value the sources give only as a range (a closed model's parameters,
 * a provider's PUE) is evaluated twice, every range at its minimum and
 * then at its maximum (EcoLogits pairs min with min); the reported figure
 * is the midpoint and the result is marked estimated.
 */

#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"

/* impact.md 2.8: Wh per prompt token per billion active parameters. */
#define FG_IMPACT_PREFILL_WH_PER_TOKEN_B  7.86e-7

/* Flags of fg_impact_input_t.flags and fg_impact_data_estimate(). */
#define FG_IMPACT_PREFILL        0x1u  /* add the prompt-token term */
#define FG_IMPACT_WATER_PHYSICAL 0x2u  /* E_it*WUE_site + E*WUE_grid,
                                          not EcoLogits' E*(WUE_site +
                                          PUE*WUE_grid) */

/* A quantity known exactly (min == max) or only as a range. */
typedef struct {
    double min;
    double max;
} fg_impact_range_t;

typedef struct {
    /* The model. */
    fg_impact_range_t active_b;           /* active parameters, billions */
    fg_impact_range_t total_b;            /* all parameters, billions */
    int               quant_bits;         /* bits per weight; 16 in
                                             EcoLogits */
    /* The request. */
    int64_t           output_tokens;      /* completion, incl. reasoning */
    int64_t           prompt_tokens;      /* all prompt tokens */
    int64_t           cached_tokens;      /* of those, served from cache:
                                             no prefill */
    double            measured_s;         /* upstream wall time, request
                                             sent to last byte; <= 0: not
                                             measured */
    /* The datacenter. */
    fg_impact_range_t pue;                /* >= 1 */
    fg_impact_range_t wue_site_l_per_kwh; /* on-site water */
    /* Its country's grid. */
    double            ci_g_per_kwh;       /* carbon intensity, lifecycle */
    double            wue_grid_l_per_kwh; /* off-site water of generation */
    double            renewable_percent;  /* passed through to the result */
    /* Policy. */
    unsigned          flags;              /* FG_IMPACT_* */
    int               is_estimated;       /* an input is an assumption
                                             (size class, assumed PUE);
                                             ranges set it by themselves */
} fg_impact_input_t;

/* The figures of one evaluation. */
typedef struct {
    double   energy_kwh;            /* at the meter: PUE included */
    double   gpu_energy_kwh;        /* GPUs only (with the prefill term),
                                       no PUE */
    double   carbon_g_co2;          /* usage phase: energy x grid CI */
    double   embodied_carbon_g_co2; /* share of server + GPU manufacture */
    double   water_liters;          /* on-site + off-site */
    double   generation_s;          /* the generation time used */
    uint32_t n_gpu;                 /* GPUs holding the weights: 1,2,4,.. */
} fg_impact_figures_t;

typedef struct {
    fg_impact_figures_t mid;        /* what is reported: (min + max) / 2,
                                       n_gpu that of max */
    fg_impact_figures_t min;        /* every range at its minimum */
    fg_impact_figures_t max;
    double              pue;        /* midpoint */
    double              renewable_percent;
    double              active_b;   /* midpoints of the parameters used */
    double              total_b;
    int                 is_range;   /* min and max differ */
    int                 is_estimated;
} fg_impact_t;

/*
 * GPUs needed to hold @total_b billion weights of @quant_bits bits: the
 * next power of two of ceil(1.2 * total_b * quant_bits / 8 GB / 80 GB).
 * 1 for anything that fits one GPU (up to 33.3 B at 16 bits). Capped at
 * 2^30. Cannot fail.
 */
uint32_t fg_impact_gpus(double total_b, int quant_bits);

/*
 * Computes the impact of one request from @in into @out. Returns FG_OK,
 * or FG_ERR with @err naming the first bad input (parameters not > 0,
 * min > max, total < active, quant_bits outside 1..64, PUE < 1, a
 * negative token count, water or carbon intensity, a non-finite value);
 * @out is then zeroed. Pure: no I/O, no allocation, any process.
 */
int fg_impact_compute(const fg_impact_input_t *in, fg_impact_t *out,
                      fg_err_t *err);

/*
 * The response's "environment_impact" object for @impact, served by
 * @provider_id in @location (ISO 3166 alpha-2, or "WORLD" when unknown):
 *   energy_kwh, carbon_g_co2, water_liters, renewable_percent, pue,
 *   provider_id, location                      (the Melious fields)
 *   embodied_carbon_g_co2, estimated, model_parameters_b {active, total}
 *   range {energy_kwh, carbon_g_co2, water_liters: [min, max]}
 *                                              (only when is_range)
 * Returns a new reference; NULL only when jansson runs out of memory.
 */
json_t *fg_impact_json(const fg_impact_t *impact, const char *provider_id,
                       const char *location);

/*
 * The same object as compact JSON text with reals to 6 significant
 * digits (jansson's default prints 17: 0.10000000000000001), for splicing
 * into a reply that is relayed as the upstream sent it. Returns an owned
 * NUL-terminated string (free()); NULL only on out-of-memory.
 */
char *fg_impact_json_text(const fg_impact_t *impact, const char *provider_id,
                          const char *location);

#endif
