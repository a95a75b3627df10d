/*
 * impact.c: the EcoLogits inference model (v0.9.x, methodology of Nov
 * 2025), as ../shared/research/impact.md section 2 writes it down.
 *
 *   n_gpu   = 2^ceil(log2(ceil(1.2 * P_tot * Q/8 / 80 GB)))
 *   e_tok   = alpha * exp(beta * B) * P_act + gamma      Wh per output token
 *                                                        per GPU
 *   t_tok   = a * P_act + b * B + c                      s per output token
 *   dT      = min(N_out * t_tok, T_measured)
 *   E_gpu   = n_gpu * N_out * e_tok  [+ k_in * P_act * N_in]
 *   E_srv   = dT / 3600 * 1200 W * n_gpu/8 / B
 *   E       = PUE * (E_gpu + E_srv)
 *   CO2     = E * CI;  CO2_emb = dT * (n_gpu/8 * 5700 + n_gpu * 164) kg
 *                                / (3 years * B)
 *   water   = E * (WUE_site + PUE * WUE_grid)   (EcoLogits' code)
 *
 * The fit coefficients are the full-precision values of EcoLogits'
 * impacts/llm.py (its docs print them rounded), so that the reference
 * cases agree to four significant digits. The bracketed prefill term is
 * ours (impact.md 2.8): prefill is compute-bound, about 2 * P_act FLOPs per
 * prompt token spread over however many GPUs, hence no n_gpu factor;
 * cached prompt tokens skip prefill and are not counted.
 *
 * The measured time only ever lowers dT: the latency fit was made on an
 * old vLLM and overstates generation time on today's servers, while the
 * measured wall time (which includes queueing and TTFT) bounds it.
 *
 * What this does not do: training, networking, storage, idle capacity and
 * the client's device are outside the model; ADPe and primary energy are
 * not computed (nobody asks for them yet).
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/fmt.h"
#include "common/accounts/impact.h"

/* EcoLogits impacts/llm.py, full precision. */
#define IMPACT_GPU_ALPHA      1.1665273170451914e-06   /* Wh / B-param */
#define IMPACT_GPU_BETA       (-0.011205921025579175)  /* per batch slot */
#define IMPACT_GPU_GAMMA      4.052928146734005e-05    /* Wh */
#define IMPACT_LAT_ALPHA      0.0006785088094353663    /* s / B-param */
#define IMPACT_LAT_BETA       0.0003119310311688259    /* s / batch slot */
#define IMPACT_LAT_GAMMA      0.019473717579473387     /* s */
#define IMPACT_BATCH          64.0       /* concurrent requests */
#define IMPACT_GPU_MEMORY_GB  80.0       /* H100 80 GB */
#define IMPACT_MEM_OVERHEAD   1.2        /* KV cache, activations */
#define IMPACT_SERVER_GPUS    8.0        /* p5.48xlarge */
#define IMPACT_SERVER_W       1200.0     /* non-GPU server power */
#define IMPACT_SERVER_EMB_G   5700000.0  /* server, without GPUs */
#define IMPACT_GPU_EMB_G      164000.0   /* one H100 (NVIDIA HGX PCF) */
#define IMPACT_LIFETIME_S     (3.0 * 365 * 24 * 60 * 60)
#define IMPACT_MAX_GPUS       (1u << 30)

static int impact_check_range(const fg_impact_range_t *r, const char *name,
                              double lowest, fg_err_t *err);
static int impact_check(const fg_impact_input_t *in, fg_err_t *err);
static void impact_point(const fg_impact_input_t *in, double active_b,
                         double total_b, double pue, double wue_site,
                         fg_impact_figures_t *f);

uint32_t
fg_impact_gpus(double total_b, int quant_bits)
{
    double   need;
    uint32_t n = 1;

    /* The order of operations is EcoLogits', so that a model right at a
     * GPU boundary lands on the same side. */
    need = ceil(IMPACT_MEM_OVERHEAD * total_b * quant_bits / 8
                / IMPACT_GPU_MEMORY_GB);
    while (n < need && n < IMPACT_MAX_GPUS) {
        n <<= 1;
    }
    return n;
}

static int
impact_check_range(const fg_impact_range_t *r, const char *name,
                   double lowest, fg_err_t *err)
{
    if (!isfinite(r->min) || !isfinite(r->max)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, name,
                          "%s is not a finite number", name);
    }
    if (r->min > r->max) {
        return fg_err_set(err, FG_E_INVALID_VALUE, name,
                          "%s: min %g > max %g", name, r->min, r->max);
    }
    if (r->min < lowest) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, name,
                          "%s must be >= %g, not %g", name, lowest, r->min);
    }
    return FG_OK;
}

static int
impact_check(const fg_impact_input_t *in, fg_err_t *err)
{
    if (impact_check_range(&in->active_b, "active_b", 0, err) != FG_OK
        || impact_check_range(&in->total_b, "total_b", 0, err) != FG_OK
        || impact_check_range(&in->pue, "pue", 1, err) != FG_OK
        || impact_check_range(&in->wue_site_l_per_kwh, "wue_site_l_per_kwh",
                              0, err) != FG_OK) {
        return FG_ERR;
    }
    if (in->active_b.min <= 0) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "active_b",
                          "active_b must be > 0");
    }
    if (in->total_b.min < in->active_b.min
        || in->total_b.max < in->active_b.max) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "total_b",
                          "total_b must be >= active_b");
    }
    if (in->quant_bits < 1 || in->quant_bits > 64) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "quant_bits",
                          "quant_bits must be 1..64, not %d",
                          in->quant_bits);
    }
    if (in->output_tokens < 0 || in->prompt_tokens < 0
        || in->cached_tokens < 0) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "tokens",
                          "token counts must be >= 0");
    }
    if (isnan(in->measured_s)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "measured_s",
                          "measured_s is not a number");
    }
    if (!isfinite(in->ci_g_per_kwh) || in->ci_g_per_kwh < 0
        || !isfinite(in->wue_grid_l_per_kwh) || in->wue_grid_l_per_kwh < 0
        || !isfinite(in->renewable_percent) || in->renewable_percent < 0
        || in->renewable_percent > 100) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "grid",
                          "grid figures must be finite and >= 0, "
                          "renewable_percent <= 100");
    }
    return FG_OK;
}

static void
impact_point(const fg_impact_input_t *in, double active_b, double total_b,
             double pue, double wue_site, fg_impact_figures_t *f)
{
    double n_out = (double) in->output_tokens;
    double n_in, n_gpu, e_tok, t_tok, dt, e_gpu, e_srv, e_it, e;

    f->n_gpu = fg_impact_gpus(total_b, in->quant_bits);
    n_gpu = (double) f->n_gpu;

    e_tok = IMPACT_GPU_ALPHA * exp(IMPACT_GPU_BETA * IMPACT_BATCH) * active_b
            + IMPACT_GPU_GAMMA;
    t_tok = IMPACT_LAT_ALPHA * active_b + IMPACT_LAT_BETA * IMPACT_BATCH
            + IMPACT_LAT_GAMMA;

    dt = n_out * t_tok;
    if (in->measured_s > 0 && in->measured_s < dt) {
        dt = in->measured_s;
    }

    e_gpu = n_gpu * n_out * e_tok;                              /* Wh */
    if (in->flags & FG_IMPACT_PREFILL) {
        /* A provider reporting more cached than prompt tokens is wrong,
         * but costs no prefill either way. */
        n_in = in->prompt_tokens > in->cached_tokens
               ? (double) (in->prompt_tokens - in->cached_tokens) : 0;
        e_gpu += FG_IMPACT_PREFILL_WH_PER_TOKEN_B * active_b * n_in;
    }
    e_srv = dt / 3600 * IMPACT_SERVER_W * (n_gpu / IMPACT_SERVER_GPUS)
            / IMPACT_BATCH;                                     /* Wh */
    e_it = e_gpu + e_srv;
    e = pue * e_it;

    f->energy_kwh = e / 1000;
    f->gpu_energy_kwh = e_gpu / 1000;
    f->generation_s = dt;
    f->carbon_g_co2 = f->energy_kwh * in->ci_g_per_kwh;
    f->embodied_carbon_g_co2 =
        dt * (n_gpu / IMPACT_SERVER_GPUS * IMPACT_SERVER_EMB_G
              + n_gpu * IMPACT_GPU_EMB_G)
        / (IMPACT_LIFETIME_S * IMPACT_BATCH);
    if (in->flags & FG_IMPACT_WATER_PHYSICAL) {
        f->water_liters = e_it / 1000 * wue_site
                          + f->energy_kwh * in->wue_grid_l_per_kwh;
    } else {
        /* EcoLogits' code (its docs multiply the IT energy instead). */
        f->water_liters = f->energy_kwh
                          * (wue_site + pue * in->wue_grid_l_per_kwh);
    }
}

int
fg_impact_compute(const fg_impact_input_t *in, fg_impact_t *out,
                  fg_err_t *err)
{
    fg_impact_figures_t *lo = &out->min, *hi = &out->max, *mid = &out->mid;

    memset(out, 0, sizeof(*out));
    if (impact_check(in, err) != FG_OK) {
        return FG_ERR;
    }
    impact_point(in, in->active_b.min, in->total_b.min, in->pue.min,
                 in->wue_site_l_per_kwh.min, lo);
    impact_point(in, in->active_b.max, in->total_b.max, in->pue.max,
                 in->wue_site_l_per_kwh.max, hi);

    mid->energy_kwh = (lo->energy_kwh + hi->energy_kwh) / 2;
    mid->gpu_energy_kwh = (lo->gpu_energy_kwh + hi->gpu_energy_kwh) / 2;
    mid->carbon_g_co2 = (lo->carbon_g_co2 + hi->carbon_g_co2) / 2;
    mid->embodied_carbon_g_co2 = (lo->embodied_carbon_g_co2
                                  + hi->embodied_carbon_g_co2) / 2;
    mid->water_liters = (lo->water_liters + hi->water_liters) / 2;
    mid->generation_s = (lo->generation_s + hi->generation_s) / 2;
    /* A midpoint of GPU counts need not be a power of two; the larger
     * deployment is the one the upper figures assume. */
    mid->n_gpu = hi->n_gpu;

    out->pue = (in->pue.min + in->pue.max) / 2;
    out->renewable_percent = in->renewable_percent;
    out->active_b = (in->active_b.min + in->active_b.max) / 2;
    out->total_b = (in->total_b.min + in->total_b.max) / 2;
    out->is_range = in->active_b.min != in->active_b.max
                    || in->total_b.min != in->total_b.max
                    || in->pue.min != in->pue.max
                    || in->wue_site_l_per_kwh.min
                       != in->wue_site_l_per_kwh.max;
    out->is_estimated = in->is_estimated || out->is_range;
    return FG_OK;
}

json_t *
fg_impact_json(const fg_impact_t *im, const char *provider_id,
               const char *location)
{
    json_t *o;

    o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:s, s:s, s:f, s:b,"
                  " s:{s:f, s:f}}",
                  "energy_kwh", im->mid.energy_kwh,
                  "carbon_g_co2", im->mid.carbon_g_co2,
                  "water_liters", im->mid.water_liters,
                  "renewable_percent", im->renewable_percent,
                  "pue", im->pue,
                  "provider_id", provider_id,
                  "location", location,
                  "embodied_carbon_g_co2", im->mid.embodied_carbon_g_co2,
                  "estimated", im->is_estimated,
                  "model_parameters_b",
                  "active", im->active_b, "total", im->total_b);
    if (o != NULL && im->is_range) {
        json_object_set_new(o, "range",
                            json_pack("{s:[f, f], s:[f, f], s:[f, f]}",
                                      "energy_kwh", im->min.energy_kwh,
                                      im->max.energy_kwh,
                                      "carbon_g_co2", im->min.carbon_g_co2,
                                      im->max.carbon_g_co2,
                                      "water_liters", im->min.water_liters,
                                      im->max.water_liters));
    }
    return o;
}

/* 1 if @s can go between JSON quotes as it is. */
static int
impact_plain(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char) *s < 0x20 || *s == '"' || *s == '\\') {
            return 0;
        }
    }
    return 1;
}

char *
fg_impact_json_text(const fg_impact_t *im, const char *provider_id,
                    const char *location)
{
    json_t *o;
    char   *s;
    int     n;

    /* On every completion: one format string instead of a jansson tree
     * and its serialisation (a tenth of the instructions). The tree stays
     * for what it alone can write: ranges, or strings needing escapes. */
    if (!im->is_range && impact_plain(provider_id) && impact_plain(location)
        && isfinite(im->mid.energy_kwh) && isfinite(im->mid.carbon_g_co2)
        && isfinite(im->mid.water_liters) && isfinite(im->renewable_percent)
        && isfinite(im->pue) && isfinite(im->mid.embodied_carbon_g_co2)
        && isfinite(im->active_b) && isfinite(im->total_b)) {
        size_t pl = strlen(provider_id), ll = strlen(location);

        s = malloc(512 + pl + ll);
        if (s == NULL) {
            return NULL;
        }
        n = 0;
#define PUT_LIT(lit) (memcpy(s + n, lit, sizeof(lit) - 1), \
                      n += (int) sizeof(lit) - 1)
#define PUT_G6(v) (n += (int) fg_fmt_g6(s + n, (v)))
        PUT_LIT("{\"energy_kwh\":");
        PUT_G6(im->mid.energy_kwh);
        PUT_LIT(",\"carbon_g_co2\":");
        PUT_G6(im->mid.carbon_g_co2);
        PUT_LIT(",\"water_liters\":");
        PUT_G6(im->mid.water_liters);
        PUT_LIT(",\"renewable_percent\":");
        PUT_G6(im->renewable_percent);
        PUT_LIT(",\"pue\":");
        PUT_G6(im->pue);
        PUT_LIT(",\"provider_id\":\"");
        memcpy(s + n, provider_id, pl);
        n += (int) pl;
        PUT_LIT("\",\"location\":\"");
        memcpy(s + n, location, ll);
        n += (int) ll;
        PUT_LIT("\",\"embodied_carbon_g_co2\":");
        PUT_G6(im->mid.embodied_carbon_g_co2);
        if (im->is_estimated) {
            PUT_LIT(",\"estimated\":true");
        } else {
            PUT_LIT(",\"estimated\":false");
        }
        PUT_LIT(",\"model_parameters_b\":{\"active\":");
        PUT_G6(im->active_b);
        PUT_LIT(",\"total\":");
        PUT_G6(im->total_b);
        PUT_LIT("}}");
#undef PUT_LIT
#undef PUT_G6
        s[n] = '\0';
        return s;
    }
    o = fg_impact_json(im, provider_id, location);
    if (o == NULL) {
        return NULL;
    }
    s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}
