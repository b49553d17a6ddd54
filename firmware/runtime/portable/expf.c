/*
 * Kiln runtime: single-precision exp without libm.
 */
#include <string.h>

#include "kiln/kernels.h"

/* 2^n as a float for n in [-126, 127], built from its exponent bits. */
static float pow2i(int32_t n)
{
    const uint32_t bits = (uint32_t)(n + 127) << 23;
    float f;

    memcpy(&f, &bits, sizeof f);
    return f;
}

/* exp(x) = 2^n * exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2.
 * ln 2 is split into a short high part (exact in n * ln2_hi for |n| < 256)
 * and a low correction so r is accurate; exp(r) is a degree-7 Taylor
 * polynomial (truncation error below 1e-8 on that interval). */
float kiln_expf(float x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693145751953125f;
    const float ln2_lo = 1.42860682030941723e-6f;
    float fn, r, poly;
    int32_t n;

    if (x != x) {
        return x;
    }
    if (x > 88.7228394f) {
        return pow2i(127) * 2.0f; /* +inf */
    }
    if (x < -103.972084f) {
        return 0.0f;
    }
    fn = x * log2e;
    n = (int32_t)(fn < 0.0f ? fn - 0.5f : fn + 0.5f);
    fn = (float)n;
    r = (x - fn * ln2_hi) - fn * ln2_lo;
    poly = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 +
           r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    /* Apply 2^n in two steps so that neither factor leaves the normal
     * range (n spans [-150, 128] here). */
    if (n > 127) {
        return poly * pow2i(127) * pow2i(n - 127);
    }
    if (n < -126) {
        return poly * pow2i(-126) * pow2i(n + 126);
    }
    return poly * pow2i(n);
}
