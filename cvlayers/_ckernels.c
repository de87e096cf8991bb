/* Fused CPU kernels for the complex activations, the modulus Adam step and the normalisation
   layers (batch, layer and group norm), called through cvlayers/_native.py.

   Each kernel reads interleaved complex data (re, im, re, im, ...) and processes the n complex
   elements of arrays that start at the given pointers, in ranges run by OpenMP threads (see
   CV_DEFINE). The formulas are those of the eager fallbacks in _modulus.py,
   _activation_functional.py and _norm.py (tests hold the two paths together); every
   activation is 0, with a finite gradient, at z = 0. One pass over memory replaces 10-20
   eager passes.

   Built with -O3 -fno-math-errno -fno-trapping-math (so that gcc vectorises sqrt, division
   and selects), -fno-tree-slp-vectorize (setup.py: an element's result must not depend on
   its position), -fopenmp on Linux and, on x86-64 Linux, AVX-512 and AVX2/FMA clones chosen
   at load time. Loaded through ctypes, which releases the GIL during each call. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>
#include <string.h>
#include <tgmath.h> /* sqrt, exp, tanh of the argument's type */

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define CV_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CV_KERNEL
#endif
/* Helpers are inlined into each clone, so that their callers' loops vectorise. */
#if defined(__GNUC__)
#define CV_INLINE static inline __attribute__((always_inline))
#define CV_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define CV_INLINE static inline
#define CV_LIKELY(x) (x)
#endif

/* Honoured with -fopenmp or -fopenmp-simd; ignored elsewhere. */
#define CV_SIMD _Pragma("omp simd")
#define CV_SIMD_SUM2 _Pragma("omp simd reduction(+ : acc0, acc1)")
/* Kernels work in blocks: a loop on planar scalars (vectorises well even when long), then
   one on the interleaved complex data; sums run per block in the input type and across
   blocks in double. */
#define CV_BLOCK 256
/* Range checks inside a block's loops (T the element type): CV_TRACK_MODULUS keeps the
   smallest and largest modulus r of x + iy in lo and hi, z = 0 counting as LO (in range);
   CV_TRACK_MAX_ABS keeps the largest |a|, |b| in m. */
#define CV_TRACK_MODULUS(T, LO, x, y, r)                                                           \
    T r_lo_ = (x) == 0 && (y) == 0 ? (T)(LO) : (r);                                                \
    lo = r_lo_ < lo ? r_lo_ : lo;                                                                  \
    hi = (r) > hi ? (r) : hi
#define CV_TRACK_MAX_ABS(T, m, a, b)                                                               \
    T ab_ = fabs(a) > fabs(b) ? fabs(a) : fabs(b);                                                 \
    m = ab_ > m ? ab_ : m

/* Each exported kernel NAME(n, threads, PARAMS) splits the complex elements [0, n) into
   cv_parts_per_thread ranges per thread (one range for one thread), all but the last a
   multiple of 64 elements long, and runs NAME_range(start, stop, ARGS) on each: where built
   with OpenMP (on Linux, whose libgomp is the one torch loaded, so the kernels share torch's
   threads instead of competing with them), in `threads` threads that take the ranges as they
   come free; one range after the other elsewhere. On a shared machine a thread whose core is
   busy elsewhere then holds the call up by a small range, not by half of it (ModReLU at 2M
   elements, 2 threads: 3.5 against 4.7 ms median under load, the same when quiet). cv_range,
   the range's index, is in scope for ARGS (per-range partial sums: the caller sizes them by
   cv_parts_per_thread). CV_DEFINE(NAME, (PARAMS), (ARGS)) { body } writes both functions; the
   body is NAME_range's, cloned per instruction set. CV_DEFINE_ALIGNED(NAME, ALIGN, ...) makes
   the ranges multiples of ALIGN units instead (ln_sums: whole rows, n counting rows). */
const int64_t cv_parts_per_thread = 8;
#ifdef _OPENMP /* (a pragma names `threads` itself: its string is not macro-expanded) */
#include <omp.h>
#define CV_FOR_RANGES                                                                              \
    int64_t cv_parts = threads > 1 ? threads * cv_parts_per_thread : 1;                            \
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)")         \
    for (int64_t cv_range = 0; cv_range < cv_parts; ++cv_range)
#else
#define CV_FOR_RANGES                                                                              \
    int64_t cv_parts = threads > 1 ? threads * cv_parts_per_thread : 1;                            \
    for (int64_t cv_range = 0; cv_range < cv_parts; ++cv_range)
#endif
#define CV_LIST(...) __VA_ARGS__
#define CV_DEFINE_ALIGNED(NAME, ALIGN, PARAMS, ARGS)                                               \
    CV_KERNEL static void NAME##_range(int64_t start, int64_t stop, CV_LIST PARAMS);               \
    void NAME(int64_t n, int64_t threads, CV_LIST PARAMS) {                                        \
        CV_FOR_RANGES {                                                                            \
            int64_t step = ((n + cv_parts - 1) / cv_parts + (ALIGN) - 1) / (ALIGN) * (ALIGN);      \
            int64_t start = cv_range * step < n ? cv_range * step : n;                             \
            int64_t stop = start + step < n ? start + step : n;                                    \
            NAME##_range(start, stop, CV_LIST ARGS);                                               \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL static void NAME##_range(int64_t start, int64_t stop, CV_LIST PARAMS)
#define CV_DEFINE(NAME, PARAMS, ARGS) CV_DEFINE_ALIGNED(NAME, 64, PARAMS, ARGS)

/* Re and Im of the n complex elements at zk, apart. Loops over functions of |z| then vectorise
   over 8 (AVX2) planar elements; on interleaved data gcc may work on (re, im) pairs and compute
   each modulus twice: the float32 ModTanh blocks did, and ran 1.3-1.5x slower (Zen 4, in L1). */
#define SPLIT_FN(SUF, T)                                                                           \
    CV_INLINE void cv_split_##SUF(const T *zk, T *X, T *Y, int64_t n) {                            \
        CV_SIMD for (int64_t i = 0; i < n; ++i) {                                                  \
            X[i] = zk[2 * i];                                                                      \
            Y[i] = zk[2 * i + 1];                                                                  \
        }                                                                                          \
    }
SPLIT_FN(f32, float)
SPLIT_FN(f64, double)
/* The inverse for an output: S z interleaved into ok, from the planes X, Y and real S. */
#define SCALE_FN(SUF, T)                                                                           \
    CV_INLINE void cv_scale_##SUF(const T *S, const T *X, const T *Y, T *ok, int64_t n) {          \
        CV_SIMD for (int64_t i = 0; i < n; ++i) {                                                  \
            ok[2 * i] = S[i] * X[i];                                                               \
            ok[2 * i + 1] = S[i] * Y[i];                                                           \
        }                                                                                          \
    }
SCALE_FN(f32, float)
SCALE_FN(f64, double)

/* P(s) and Q1(s), Q = 1 + s Q1: tanh(a) = a (1 + s P) / Q with s = a^2. */
CV_INLINE void cv_tanh_pq_f32(float s, float *p_out, float *q1_out) {
    float p = 1.33311300e-08f;
    p = 2.05976703e-05f + s * p;
    p = 3.49514768e-03f + s * p;
    *p_out = 1.33807451e-01f + s * p;
    float q = 7.76855643e-07f;
    q = 3.28473368e-04f + s * q;
    q = 2.58755814e-02f + s * q;
    *q1_out = 4.67140645e-01f + s * q;
}

/* tanh in float: sign(x) a (1 + s P(s)) / Q(s), a = |x|, s = a^2 (a [9/8] rational fitted for
   least relative error on [0, 9.05] by linearised linear programming), and 1 from a = 9.02 on,
   where float32 tanh rounds to 1. One division and no exponential: ~1.7x faster than
   e / (e + 2) with e = expm1(2a). Checked over every float32 a <= 10 against double tanh: at
   most 5.4 ulp with FMA (the x86-64-v3/v4 clones), 6.3 ulp without; the error is that of the
   rounding in P and Q near a = 8, where both are large. NaN propagates; tanh(-0) = -0. */
CV_INLINE float cv_tanh_f32(float x) {
    float a = fabs(x), s = a * a, p, q1;
    cv_tanh_pq_f32(s, &p, &q1);
    return copysign(a >= 9.02f ? 1.0f : (a + a * s * p) / (1 + s * q1), x);
}

/* ModTanh in float32 without |z|: the rational above is odd, so tanh(r)/r = (1 + s P) / Q =: R
   is a function of s = |z|^2, and so is K = (tanh'(r) - R) / s = H / Q - R^2, with
   H = (Q - 1)/s - P = Q1 - P, whose coefficients are those of Q1 and P subtracted (no
   cancellation at small s; K(0) = -2/3). Then, with G the upstream gradient,
     f(z) = R z,   grad_z = R G + K z Re(conj(z) G),
   the u-frame form of MODSCALE_KERNELS multiplied out: no sqrt, one division, exact at
   z = 0 (grad G = tanh'(0) G) and for denormal z. It holds while |z| < 9 (below the
   rational's saturation at 9.02), so the block functions below return 0, for the caller to
   redo the block the general way, where some |z| >= 9 or, in the backward, some |G| > 1e30
   (z Re(conj(z) G) could overflow). Returns R, sets K. */
CV_INLINE float cv_tanh_over_r_f32(float s, float *k) {
    float p, q1;
    cv_tanh_pq_f32(s, &p, &q1);
    float h = 7.63524497e-07f;
    h = 3.07875685e-04f + s * h;
    h = 2.23804340e-02f + s * h;
    h = 3.33333194e-01f + s * h;
    float inv = 1 / (1 + s * q1), r = (1 + s * p) * inv;
    *k = h * inv - r * r;
    return r;
}
CV_INLINE int cv_modtanh_block_fwd_f32(const float *X, const float *Y, const float *zk, float *ok,
                                        int64_t n, float b, const float *B, float b_lo,
                                        float b_hi) {
    (void)zk, (void)b, (void)B, (void)b_lo, (void)b_hi; /* no bias */
    float hi = 0, R[CV_BLOCK];
    _Pragma("omp simd reduction(max : hi)") for (int64_t i = 0; i < n; ++i) {
        float s = X[i] * X[i] + Y[i] * Y[i], k;
        R[i] = cv_tanh_over_r_f32(s, &k);
        hi = s > hi ? s : hi;
    }
    if (!(hi < 81.0f))
        return 0;
    cv_scale_f32(R, X, Y, ok, n);
    return 1;
}
CV_INLINE int cv_modtanh_block_bwd_f32(const float *X, const float *Y, const float *zk,
                                        const float *gk, float *ok, int64_t n, float b,
                                        const float *B, float b_lo, float b_hi, float *acc,
                                        float *Q) {
    (void)zk, (void)b, (void)B, (void)b_lo, (void)b_hi, (void)acc, (void)Q; /* no bias */
    float hi = 0, g_hi = 0, R[CV_BLOCK], K[CV_BLOCK];
    _Pragma("omp simd reduction(max : hi)") for (int64_t i = 0; i < n; ++i) {
        float s = X[i] * X[i] + Y[i] * Y[i], k;
        R[i] = cv_tanh_over_r_f32(s, &k);
        K[i] = k;
        hi = s > hi ? s : hi;
    }
    if (!(hi < 81.0f))
        return 0;
    _Pragma("omp simd reduction(max : g_hi)") for (int64_t i = 0; i < n; ++i) {
        float x = X[i], y = Y[i], gx = gk[2 * i], gy = gk[2 * i + 1];
        float t = K[i] * (x * gx + y * gy);
        ok[2 * i] = R[i] * gx + t * x;
        ok[2 * i + 1] = R[i] * gy + t * y;
        CV_TRACK_MAX_ABS(float, g_hi, gx, gy);
    }
    return g_hi <= 1e30f; /* |t z| <= 54 |G|: no overflow */
}

/* The other kinds, and ModTanh in double (whose tanh is not that rational), have no such
   block functions. */
#define NO_BLOCK_FNS(SUF, T)                                                                       \
    CV_INLINE int cv_no_block_fwd_##SUF(const T *X, const T *Y, const T *zk, T *ok, int64_t n,     \
                                        T b, const T *B, T b_lo, T b_hi) {                         \
        (void)X, (void)Y, (void)zk, (void)ok, (void)n, (void)b, (void)B, (void)b_lo, (void)b_hi;   \
        return 0;                                                                                  \
    }                                                                                              \
    CV_INLINE int cv_no_block_bwd_##SUF(const T *X, const T *Y, const T *zk, const T *gk, T *ok,   \
                                        int64_t n, T b, const T *B, T b_lo, T b_hi, T *acc,        \
                                        T *Q) {                                                    \
        (void)X, (void)Y, (void)zk, (void)gk, (void)ok, (void)n, (void)b, (void)B, (void)b_lo;     \
        (void)b_hi, (void)acc, (void)Q;                                                            \
        return 0;                                                                                  \
    }
NO_BLOCK_FNS(f32, float)
NO_BLOCK_FNS(f64, double)
#define cv_modtanh_block_fwd_f64 cv_no_block_fwd_f64
#define cv_modtanh_block_bwd_f64 cv_no_block_bwd_f64

/* e^x without a libm call, so that the loops calling it vectorise: e^x = 2^n (1 + p) with
   n = rint(x/ln 2) taken from the low bits of x/ln 2 + 1.5 * 2^(mantissa bits), a two-part
   (Cody-Waite) ln 2, and p = e^r - 1 on |r| <= ln(2)/2 by a polynomial: in double its Taylor
   series to degree 13; in float r + r^2/2 + r^3 q(r), q of degree 3 fitted for least error in
   ulps (0.2 in exact arithmetic), one FMA fewer than Taylor's degree 7 and 5-8 % off CSigmoid
   and CELU (expm1 within 0.94 ulp, e^x within 1.04, where Taylor gave 0.81 and 1.05). Returns
   p and sets 2^n = h1 h2. With split, two normal factors, so that e^x is right down into the
   denormals: then e^x = h1 (h2 (1 + p)), and x is clamped to [LO, HI] (e^LO rounds to 0,
   e^HI is near the largest number). Without, h1 = 2^n, h2 = 1, and x is clamped to
   [CV_EXP_LO1, HI], where 2^n is a normal number: enough for e^x - 1 = h1 p + (h1 - 1),
   which has no cancellation near 0 (n = 0 there) and is -1 to the last bit long before
   CV_EXP_LO1 (CELU's forward ran 20 % faster so). NaN propagates through p.
   Callers that know x <= 0 (or NaN), or select away the result for x > 0, pass upper = 0,
   which drops the clamp at HI: gcc turns each clamp into compares and blends on the result,
   and CSigmoid's forward ran 18 % faster without the dead one (Zen 4, in L1). Above HI, the
   exponent bits then wrap (unsigned) and h1, h2 are meaningless. */
#define CV_EXP_LO1(T) ((T)(sizeof(T) == sizeof(float) ? -87 : -708))
#define EXP_REDUCE_FN(SUF, T, I, U, LO, HI, SHIFTER, LN2_HI, LN2_LO, BIAS, MANT, POLY)             \
    CV_INLINE T cv_exp_reduce_##SUF(T x, int split, int upper, T *h1, T *h2) {                     \
        T lo_ = split ? (T)(LO) : CV_EXP_LO1(T);                                                   \
        x = x < lo_ ? lo_ : x;                                                                     \
        if (upper)                                                                                 \
            x = x > (T)(HI) ? (T)(HI) : x;                                                         \
        T t = x * (T)1.44269504088896340736 + (T)(SHIFTER);                                        \
        T n = t - (T)(SHIFTER);                                                                    \
        T r = (x - n * (T)(LN2_HI)) - n * (T)(LN2_LO);                                             \
        I bits, shift;                                                                             \
        memcpy(&bits, &t, sizeof bits);                                                            \
        memcpy(&shift, &(T){(T)(SHIFTER)}, sizeof shift);                                          \
        I n1 = split ? (bits - shift) >> 1 : bits - shift, n2 = (bits - shift) - n1;               \
        I b1 = (I)((U)(n1 + (BIAS)) << (MANT)), b2 = (I)((U)(n2 + (BIAS)) << (MANT));              \
        memcpy(h1, &b1, sizeof b1);                                                                \
        memcpy(h2, &b2, sizeof b2);                                                                \
        return POLY(r);                                                                            \
    }
CV_INLINE float cv_expm1_poly_f32(float r) {
    float p = 1.388425124e-03f;
    p = 8.364981972e-03f + r * p;
    p = 4.166708142e-02f + r * p;
    p = 1.666655988e-01f + r * p;
    p = 0.5f + r * p;
    return r + r * r * p;
}
CV_INLINE double cv_expm1_poly_f64(double r) {
    double p = 1.0 / 6227020800.0;
    p = 1.0 / 479001600.0 + r * p;
    p = 1.0 / 39916800.0 + r * p;
    p = 1.0 / 3628800.0 + r * p;
    p = 1.0 / 362880.0 + r * p;
    p = 1.0 / 40320.0 + r * p;
    p = 1.0 / 5040.0 + r * p;
    p = 1.0 / 720.0 + r * p;
    p = 1.0 / 120.0 + r * p;
    p = 1.0 / 24.0 + r * p;
    p = 1.0 / 6.0 + r * p;
    p = 0.5 + r * p;
    return r + r * r * p;
}
EXP_REDUCE_FN(f32, float, int32_t, uint32_t, -104, 88, 12582912.0, 0.693145752, 1.42860677e-06,
              127, 23, cv_expm1_poly_f32)
EXP_REDUCE_FN(f64, double, int64_t, uint64_t, -746, 709, 6755399441055744.0,
              6.93147180369123816490e-01, 1.90821492927058770002e-10, 1023, 52, cv_expm1_poly_f64)

#define EXP_FNS(SUF, T)                                                                            \
    CV_INLINE T cv_expm1_##SUF(T x, int upper) {                                                   \
        T h, one, p = cv_exp_reduce_##SUF(x, 0, upper, &h, &one);                                  \
        return h * p + (h - 1);                                                                    \
    }                                                                                              \
    CV_INLINE T cv_exp_##SUF(T x, int split, int upper) {                                          \
        T h1, h2, p = cv_exp_reduce_##SUF(x, split, upper, &h1, &h2);                              \
        return h1 * (h2 * (p + 1));                                                                \
    }
EXP_FNS(f32, float)
EXP_FNS(f64, double)

/* tanh in double: sign(x) e / (e + 2), e = expm1(2|x|), with no cancellation near 0. */
CV_INLINE double cv_tanh_f64(double x) {
    double e = cv_expm1_f64(2 * fabs(x), 1);
    return copysign(e / (e + 2), x);
}

/* sigma(r) = (1 + tanh(r/2)) / 2, without cancellation for the r >= 0 of a modulus. In float,
   given s = r^2 (from_s: where s neither over- nor underflows), tanh(r/2) = (r/2) R(s/4)
   (cv_tanh_over_r_f32), whose rational need not wait for r = sqrt(s): ModSigmoid's kernels
   ran 13-15 % faster so (Zen 4, in L1). */
CV_INLINE float cv_sigmoid_f32(float r, float s, int from_s) {
    if (!from_s)
        return 0.5f + 0.5f * cv_tanh_f32(0.5f * r);
    float s4 = 0.25f * s, k;
    float t = s4 >= 9.02f * 9.02f ? 1.0f : 0.5f * r * cv_tanh_over_r_f32(s4, &k);
    return 0.5f + 0.5f * t;
}
CV_INLINE double cv_sigmoid_f64(double r, double s, int from_s) {
    (void)s, (void)from_s;
    return 0.5 + 0.5 * cv_tanh_f64(0.5 * r);
}

/* |z| and u = z/|z| = (c, w) without over- or underflow anywhere in the type's range,
   denormals included (u = 0 at z = 0). x and y are multiplied by k = 2^-e, e the exponent of
   m = max(|x|, |y|) clamped to the normal range (so that k and 1/k are normal numbers): exact,
   and it brings m to [1, 4), where x^2 + y^2 is normal; |z| = |kz| / k, which overflows only
   where |z| exceeds the type's largest number. k and inv = 1/|kz| are returned too: g/|z| is
   (g k) inv, finite wherever the true value is. NaN propagates. k comes from the exponent
   bits rather than from a select between constants, which gcc splits into one sqrt per case.
   With scaled = 0 (a constant at each call), k = 1: the same results, up to the rounding of
   x^2 + y^2, at z = 0 and wherever CV_LO <= |z| <= CV_HI, in fewer operations (CV_TWO_PASS). */
#define CV_LO(T) ((T)(sizeof(T) == sizeof(float) ? 0x1p-50 : 0x1p-500))
#define CV_HI(T) ((T)(sizeof(T) == sizeof(float) ? 0x1p50 : 0x1p500))
#define POLAR_FN(SUF, T, I, E_ONE, E_TOP)                                                          \
    CV_INLINE T cv_polar_##SUF(T x, T y, int scaled, T *c, T *w, T *k_out, T *inv_out) {           \
        T k = 1, k_inv = 1;                                                                        \
        if (scaled) {                                                                              \
            T ax = fabs(x), ay = fabs(y), m = ax > ay ? ax : ay;                                   \
            I e;                                                                                   \
            memcpy(&e, &m, sizeof e);                                                              \
            e &= E_TOP | (E_TOP - E_ONE); /* the exponent field */                                 \
            e = e < E_ONE ? E_ONE : (e > E_TOP - E_ONE ? E_TOP - E_ONE : e);                       \
            I e_k = E_TOP - e;                                                                     \
            memcpy(&k, &e_k, sizeof k);                                                            \
            memcpy(&k_inv, &e, sizeof k_inv);                                                      \
        }                                                                                          \
        T xs = x * k, ys = y * k, rs = sqrt(xs * xs + ys * ys);                                    \
        T inv = 1 / (rs == 0 ? (T)1 : rs); /* NaN stays NaN, into c and w */                       \
        *c = xs * inv;                                                                             \
        *w = ys * inv;                                                                             \
        *k_out = k;                                                                                \
        *inv_out = inv;                                                                            \
        return rs * k_inv;                                                                         \
    }
POLAR_FN(f32, float, int32_t, ((int32_t)1 << 23), ((int32_t)254 << 23))
POLAR_FN(f64, double, int64_t, ((int64_t)1 << 52), ((int64_t)2046 << 52))

/* t clamped to the finite range of its type (NaN kept): a gradient that overflows saturates
   rather than meeting a 0 as inf * 0 = NaN. */
#define CV_MAX(T) ((T)(sizeof(T) == sizeof(float) ? FLT_MAX : DBL_MAX))
#define CV_FINITE(T, t) ((t) > CV_MAX(T) ? CV_MAX(T) : ((t) < -CV_MAX(T) ? -CV_MAX(T) : (t)))

/* g(r) and g'(r) of the modulus maps f(z) = g(|z|) z/|z|; s = r^2 where not SCALED. */
/* (ReLU as torch.relu: NaN stays NaN, as a NaN bias makes it; g' = 1 there, as in torch's
   threshold_backward.) */
#define RELU_G(T, SUF, SCALED, r, s, b, g, dg)                                                     \
    T sh_ = (r) + (b);                                                                             \
    T g = sh_ <= 0 ? (T)0 : sh_;                                                                   \
    T dg = sh_ <= 0 ? (T)0 : (T)1
#define TANH_G(T, SUF, SCALED, r, s, b, g, dg)                                                     \
    T g = cv_tanh_##SUF(r);                                                                        \
    T dg = 1 - g * g
#define SIGMOID_G(T, SUF, SCALED, r, s, b, g, dg)                                                  \
    T g = cv_sigmoid_##SUF(r, s, !(SCALED));                                                       \
    T dg = g * (1 - g)
/* g/r below CV_LO (the SCALED pass), from 1/|z| = k inv rather than from the r there, which
   may be a denormal number with a few bits: (r + b)/r = 1 + b/r, tanh(r)/r = 1 (r^2 far below
   eps), sigma(r)/r with sigma(r) ~ 1/2 exact. g/r from the rounded r was off by up to 30 % at
   |z| ~ 1e-45 (ModReLU with b = 0, ModTanh) in float32. */
#define RELU_G_TINY(T, b, g, dg, k, inv) ((dg) > 0 ? 1 + (b) * (k) * (inv) : (T)0)
#define TANH_G_TINY(T, b, g, dg, k, inv) ((T)1)
#define SIGMOID_G_TINY(T, b, g, dg, k, inv) ((g) * (k) * (inv))
/* Whether g(r) itself overflows where r = |z| does for a finite z (both parts above max/sqrt 2):
   ModReLU's r + b, whose g/r is then its _TINY form 1 + b/r (its output (1 + b/r) z is finite
   wherever the true one is); tanh and sigmoid give g = 1, and g/r = g k inv. */
#define RELU_G_OVERFLOWS 1
#define TANH_G_OVERFLOWS 0
#define SIGMOID_G_OVERFLOWS 0
#define CV_HUGE(T, SCALED, GFN, r, inv)                                                            \
    ((SCALED) && GFN##_OVERFLOWS && (r) > CV_MAX(T) && (inv) > 0)

/* A block's first loop over its n elements, PASS(..., 0), without the scaling of cv_polar; its
   moduli's range [lo, hi] decides whether the block needs PASS(..., 1), the same loop with it,
   over again (some nonzero |z| outside [CV_LO, CV_HI]). ~25 % faster in the forward, 10 % in
   the backward (AVX2), for the same results. */
#define CV_TWO_PASS(PASS, SUF, T, GFN)                                                             \
    PASS(SUF, T, GFN, 0)                                                                           \
    if (!(lo >= CV_LO(T) && hi <= CV_HI(T))) {                                                     \
        PASS(SUF, T, GFN, 1)                                                                       \
    }
#define CV_SIMD_RANGE _Pragma("omp simd reduction(min : lo) reduction(max : hi)")
/* r = |z| of element i, u = (c, w), k and inv (cv_polar), and r's range in lo, hi, where z = 0
   counts as in range: without scaling, u = 0 there too. (An r of 0 from a nonzero z, whose
   x^2 + y^2 underflowed, does not.) */
#define CV_POLAR_AT(SUF, T, SCALED, i)                                                             \
    T x_ = X[i], y_ = Y[i], c, w, k, inv;                                                          \
    T r = cv_polar_##SUF(x_, y_, SCALED, &c, &w, &k, &inv);                                        \
    CV_TRACK_MODULUS(T, CV_LO(T), x_, y_, r)

/* Element i's bias in a block of MODSCALE_KERNELS: B[i] where the block spans several channels'
   runs, else the block's one b, with B = NULL (constant at each inlined call: gcc keeps the
   scalar in those loops); likewise its bias gradient v goes into Q[i] or a block sum. */
#define CV_BIAS_AT(i) (B ? B[i] : b)
#define CV_BIAS_GRAD(i, v, sum)                                                                    \
    if (Q)                                                                                         \
        Q[i] = (v);                                                                                \
    else                                                                                           \
        sum += (v)

/* The first loops of MODSCALE_KERNELS, over a block of n elements split into X and Y, into
   planar arrays: the forward's g(r) u; the backward's u, g', g/r (saturated in the SCALED
   pass) and E = g' at z = 0. */
#define MODSCALE_FWD_PASS(SUF, T, GFN, SCALED)                                                     \
    lo = CV_HI(T);                                                                                 \
    hi = 0;                                                                                        \
    CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {                                                \
        CV_POLAR_AT(SUF, T, SCALED, i);                                                            \
        GFN(T, SUF, SCALED, r, x_ * x_ + y_ * y_, CV_BIAS_AT(i), g, dg);                           \
        int huge_ = CV_HUGE(T, SCALED, GFN, r, inv);                                               \
        T s_ = huge_ ? GFN##_TINY(T, CV_BIAS_AT(i), g, dg, k, inv) : (T)0;                         \
        OX[i] = huge_ ? s_ * x_ : g * c;                                                           \
        OY[i] = huge_ ? s_ * y_ : g * w;                                                           \
    }
#define MODSCALE_BWD_PASS(SUF, T, GFN, SCALED)                                                     \
    lo = CV_HI(T);                                                                                 \
    hi = 0;                                                                                        \
    CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {                                                \
        CV_POLAR_AT(SUF, T, SCALED, i);                                                            \
        GFN(T, SUF, SCALED, r, x_ * x_ + y_ * y_, CV_BIAS_AT(i), g, dg);                           \
        T ratio = g * k * inv; /* g/r, bounded when not SCALED (see MODSCALE_BWD_FINAL) */         \
        int tiny_ = SCALED && r < CV_LO(T), huge_ = CV_HUGE(T, SCALED, GFN, r, inv);               \
        ratio = tiny_ || huge_ ? GFN##_TINY(T, CV_BIAS_AT(i), g, dg, k, inv) : ratio;              \
        RT[i] = SCALED ? CV_FINITE(T, ratio) : ratio;                                              \
        E[i] = r > 0 ? (T)0 : dg;                                                                  \
        C[i] = c;                                                                                  \
        W[i] = w;                                                                                  \
        DG[i] = dg;                                                                                \
    }
/* The backward's last loop, from the planar arrays and the interleaved G, into the output and
   the bias gradients g' q (the relu kind's b: CV_BIAS_GRAD). With CLAMP = 0 it saturates
   nothing and takes g_hi = max |Re G|, |Im G|: p = (g/r) Im(conj(u) G) cannot overflow when
   the first pass was unscaled (r >= CV_LO), every |b| <= CV_B_SAFE and g_hi <= CV_G_SAFE
   (float: g/r <= 2^70, |p| <= 2^121); else the caller runs it again with CLAMP = 1. The two
   saturations cost the backward 25 % (Zen 4, in L1). */
#define CV_B_SAFE(T) ((T)(sizeof(T) == sizeof(float) ? 0x1p20 : 0x1p100))
#define CV_G_SAFE(T) ((T)(sizeof(T) == sizeof(float) ? 0x1p50 : 0x1p400))
#define MODSCALE_BWD_FINAL(T, CLAMP)                                                               \
    acc = 0;                                                                                       \
    _Pragma("omp simd reduction(+ : acc) reduction(max : g_hi)") for (int64_t i = 0; i < n; ++i) { \
        T gx = gk[2 * i], gy = gk[2 * i + 1], c = C[i], w = W[i];                                  \
        T q = DG[i] * (c * gx + w * gy), p = RT[i] * (c * gy - w * gx);                            \
        p = CLAMP ? CV_FINITE(T, p) : p;                                                           \
        ok[2 * i] = q * c - p * w + E[i] * gx;                                                     \
        ok[2 * i + 1] = q * w + p * c + E[i] * gy;                                                 \
        CV_BIAS_GRAD(i, q, acc);                                                                   \
        if (!(CLAMP)) {                                                                            \
            CV_TRACK_MAX_ABS(T, g_hi, gx, gy);                                                     \
        }                                                                                          \
    }
/* ModReLU's forward stores S = relu(r + b)/r (g/r) and writes S z, for any |b| <= CV_B_SAFE.
   Its backward for a bias b <= 0 works in the z frame: with S and
   g' = 1[r + b > 0], grad_z = u (g' q + i S p) is S G + K z Re(conj(z) G) with
   K = (g' - S)/r^2 = -b g' / r^3, and the bias gradient g' q = (g'/r) Re(conj(z) G) into Q:
   three planar arrays (S, K, g'/r) instead of five, and no u. For b > 0, S > 1 and the radial
   part S q + (1 - S) q would cancel, so blocks with some b > 0 take the general way, as do ones
   with some nonzero |z| outside [RELU_LO, RELU_HI] or |b| > CV_B_SAFE (returns 0 before
   writing), or some |G| > CV_G_SAFE (returns 0 after: the caller rewrites the block). In range, no
   intermediate overflows: |K Re(conj(z) G)| <= 2 |b| |G| / r^2. At z = 0: S = g' = 0. */
#define RELU_LO(T) ((T)(sizeof(T) == sizeof(float) ? 0x1p-20 : 0x1p-200))
#define RELU_HI(T) ((T)(sizeof(T) == sizeof(float) ? 0x1p30 : 0x1p300))
#define MODRELU_BLOCK_FNS(SUF, T)                                                                  \
    CV_INLINE int cv_modrelu_block_fwd_##SUF(const T *X, const T *Y, const T *zk, T *ok,           \
                                             int64_t n, T b, const T *B, T b_lo, T b_hi) {         \
        (void)zk;                                                                                  \
        if (!(-b_lo <= CV_B_SAFE(T) && b_hi <= CV_B_SAFE(T)))                                      \
            return 0;                                                                              \
        T S[CV_BLOCK], lo = RELU_HI(T), hi = 0;                                                    \
        CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {                                            \
            T x = X[i], y = Y[i], r = sqrt(x * x + y * y);                                         \
            T inv = 1 / (r == 0 ? (T)1 : r), sh = r + CV_BIAS_AT(i);                               \
            S[i] = sh <= 0 ? (T)0 : sh * inv; /* NaN kept */                                       \
            CV_TRACK_MODULUS(T, RELU_LO(T), x, y, r);                                              \
        }                                                                                          \
        if (!(lo >= RELU_LO(T) && hi <= RELU_HI(T)))                                               \
            return 0;                                                                              \
        cv_scale_##SUF(S, X, Y, ok, n);                                                            \
        return 1;                                                                                  \
    }                                                                                              \
    CV_INLINE int cv_modrelu_block_bwd_##SUF(const T *X, const T *Y, const T *zk, const T *gk,     \
                                             T *ok, int64_t n, T b_, const T *B, T b_lo, T b_hi,   \
                                             T *acc, T *Q) {                                       \
        (void)zk;                                                                                  \
        if (!(b_hi <= 0 && -b_lo <= CV_B_SAFE(T)))                                                 \
            return 0;                                                                              \
        T S[CV_BLOCK], K[CV_BLOCK], M[CV_BLOCK], lo = RELU_HI(T), hi = 0, g_hi = 0, sum = 0;       \
        CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {                                            \
            T x = X[i], y = Y[i], r = sqrt(x * x + y * y), b = B ? B[i] : b_;                      \
            T inv = 1 / (r == 0 ? (T)1 : r), sh = r + b;                                           \
            T m = sh <= 0 ? (T)0 : inv; /* g'/r; 0 at z = 0, where sh = b <= 0 */                  \
            S[i] = sh <= 0 ? (T)0 : sh * inv; /* NaN kept */                                       \
            K[i] = -b * (m * inv * inv);                                                           \
            M[i] = m;                                                                              \
            CV_TRACK_MODULUS(T, RELU_LO(T), x, y, r);                                              \
        }                                                                                          \
        if (!(lo >= RELU_LO(T) && hi <= RELU_HI(T)))                                               \
            return 0;                                                                              \
        _Pragma("omp simd reduction(+ : sum) reduction(max : g_hi)") for (int64_t i = 0; i < n;    \
                                                                           ++i) {                  \
            T x = X[i], y = Y[i], gx = gk[2 * i], gy = gk[2 * i + 1];                              \
            T d = x * gx + y * gy, t = K[i] * d;                                                   \
            ok[2 * i] = S[i] * gx + t * x;                                                         \
            ok[2 * i + 1] = S[i] * gy + t * y;                                                     \
            CV_BIAS_GRAD(i, M[i] * d, sum);                                                        \
            CV_TRACK_MAX_ABS(T, g_hi, gx, gy);                                                     \
        }                                                                                          \
        *acc = sum;                                                                                \
        return g_hi <= CV_G_SAFE(T);                                                               \
    }
MODRELU_BLOCK_FNS(f32, float)
MODRELU_BLOCK_FNS(f64, double)

/* ModSigmoid in float32 in the z frame, for blocks whose nonzero moduli lie in
   [RELU_LO, SIGMOID_HI): sigma(r) u = u/2 + (tanh(rho)/2) u with rho = r/2 is
     f(z) = (1/(2r) + R/4) z,  R = tanh(rho)/rho, a function of rho^2 = s/4 (cv_tanh_over_r_f32),
   and the backward adds the tangential one of u/2, i z Im(conj(z) G)/(2 r^3), to the
   ModTanh-like one of (R/4) z, (R/4) G + (K/16) z Re(conj(z) G): three planar arrays instead of
   five. Its radial part sigma'(r) q = (R + K rho^2) q/4 loses about R/tanh'(rho) eps relative
   to q (not to G) by cancellation: ~40 eps below SIGMOID_HI = 6, where blocks stop (the
   general way computes sigma' directly). As MODRELU_BLOCK_FNS, blocks out of range return 0
   before writing, blocks with some |G| > CV_G_SAFE after. At z = 0: f = 0, grad = G/4. */
#define SIGMOID_HI 6.0f
CV_INLINE int cv_modsigmoid_block_fwd_f32(const float *X, const float *Y, const float *zk,
                                          float *ok, int64_t n, float b, const float *B,
                                          float b_lo, float b_hi) {
    (void)zk, (void)b, (void)B, (void)b_lo, (void)b_hi; /* no bias */
    float S[CV_BLOCK], lo = RELU_HI(float), hi = 0;
    CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {
        float x = X[i], y = Y[i], s = x * x + y * y, r = sqrt(s), k;
        float inv = 1 / (r == 0 ? 1.0f : r);
        S[i] = 0.5f * inv + 0.25f * cv_tanh_over_r_f32(0.25f * s, &k);
        CV_TRACK_MODULUS(float, RELU_LO(float), x, y, r);
    }
    if (!(lo >= RELU_LO(float) && hi < SIGMOID_HI))
        return 0;
    cv_scale_f32(S, X, Y, ok, n);
    return 1;
}
CV_INLINE int cv_modsigmoid_block_bwd_f32(const float *X, const float *Y, const float *zk,
                                          const float *gk, float *ok, int64_t n, float b,
                                          const float *B, float b_lo, float b_hi, float *acc,
                                          float *Q) {
    (void)zk, (void)b, (void)B, (void)b_lo, (void)b_hi, (void)acc, (void)Q; /* no bias */
    float H[CV_BLOCK], K[CV_BLOCK], C[CV_BLOCK], lo = RELU_HI(float), hi = 0, g_hi = 0;
    CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {
        float x = X[i], y = Y[i], s = x * x + y * y, r = sqrt(s), k;
        float inv = 1 / (r == 0 ? 1.0f : r);
        H[i] = 0.25f * cv_tanh_over_r_f32(0.25f * s, &k);
        K[i] = 0.0625f * k;
        C[i] = 0.5f * (inv * inv * inv); /* times Im(conj(z) G) = 0 at z = 0 */
        CV_TRACK_MODULUS(float, RELU_LO(float), x, y, r);
    }
    if (!(lo >= RELU_LO(float) && hi < SIGMOID_HI))
        return 0;
    _Pragma("omp simd reduction(max : g_hi)") for (int64_t i = 0; i < n; ++i) {
        float x = X[i], y = Y[i], gx = gk[2 * i], gy = gk[2 * i + 1];
        float t = K[i] * (x * gx + y * gy), c = C[i] * (x * gy - y * gx);
        ok[2 * i] = H[i] * gx + t * x - c * y;
        ok[2 * i + 1] = H[i] * gy + t * y + c * x;
        CV_TRACK_MAX_ABS(float, g_hi, gx, gy);
    }
    return g_hi <= CV_G_SAFE(float); /* |c z| <= |G| / r <= 2^70 */
}
#define cv_modsigmoid_block_fwd_f64 cv_no_block_fwd_f64
#define cv_modsigmoid_block_bwd_f64 cv_no_block_bwd_f64
/* The bias of a block of n elements, where element j reads bias[(j / inner) % channels] (0
   without a bias) and the first is at place p of a run of channel c: where the block lies in
   that run, returns c and sets b_lo = b_hi = its bias; else returns -1, fills B with each
   element's bias and sets their range. Runs shorter than a block (a bias per feature on the
   fastest dimension: ModReLU after Linear, or channels last) so cost a fill, not a block cut
   short at each run's end (which made per-feature ModReLU on (4096, 512) 2x slower than the
   eager maths). Runs of one through at most CV_BLOCK channels fill from the period P
   (cv_bias_period; else NULL) in one copy. */
#define BIAS_BLOCK_FNS(SUF, T)                                                                     \
    /* P[j] = bias[j % channels] for j < CV_BLOCK + channels, where the bias is per element        \
       (inner = 1) with 2 to CV_BLOCK channels; returns whether so. */                             \
    CV_INLINE int cv_bias_period_##SUF(const T *bias, int64_t channels, int64_t inner, T *P) {     \
        if (!bias || inner != 1 || channels < 2 || channels > CV_BLOCK)                            \
            return 0;                                                                              \
        for (int64_t j = 0; j < CV_BLOCK + channels; ++j)                                          \
            P[j] = bias[j % channels];                                                             \
        return 1;                                                                                  \
    }                                                                                              \
    CV_INLINE int64_t cv_bias_block_##SUF(const T *bias, const T *P, int64_t channels,             \
                                          int64_t inner, int64_t c, int64_t p, int64_t n, T *B,    \
                                          T *b_lo, T *b_hi) {                                      \
        if (!bias) {                                                                               \
            *b_lo = *b_hi = 0;                                                                     \
            return 0;                                                                              \
        }                                                                                          \
        if (channels == 1 || inner - p >= n) {                                                     \
            *b_lo = *b_hi = bias[c];                                                               \
            return c;                                                                              \
        }                                                                                          \
        for (int64_t i = 0; i < n;) {                                                              \
            int64_t m;                                                                             \
            if (P) {                                                                               \
                m = n;                                                                             \
                CV_SIMD for (int64_t t = 0; t < n; ++t) B[t] = P[c + t];                           \
            } else if (inner == 1) { /* bias[c], bias[c + 1], ...: a copy up to the wrap */        \
                m = channels - c < n - i ? channels - c : n - i;                                   \
                CV_SIMD for (int64_t t = 0; t < m; ++t) B[i + t] = bias[c + t];                    \
                c = (c + m) % channels;                                                            \
            } else {                                                                               \
                m = inner - p < n - i ? inner - p : n - i;                                         \
                T b = bias[c];                                                                     \
                CV_SIMD for (int64_t t = 0; t < m; ++t) B[i + t] = b;                              \
                p = (p + m) % inner;                                                               \
                c = p == 0 ? (c + 1) % channels : c;                                               \
            }                                                                                      \
            i += m;                                                                                \
        }                                                                                          \
        T lo = B[0], hi = B[0];                                                                    \
        _Pragma("omp simd reduction(min : lo) reduction(max : hi)") for (int64_t i = 0; i < n;     \
                                                                          ++i) {                   \
            lo = B[i] < lo ? B[i] : lo;                                                            \
            hi = B[i] > hi ? B[i] : hi;                                                            \
        }                                                                                          \
        *b_lo = lo, *b_hi = hi;                                                                    \
        return -1;                                                                                 \
    }                                                                                              \
    /* Adds the per-element bias gradients Q of such a block into their channels' sums in          \
       gbias, run by run as cv_bias_block filled B (a scalar loop took ModReLU's backward 40 %     \
       over the scalar bias's at (4096, 512)); with a period, into GP[c + i], which                \
       cv_bias_fold adds into gbias at the end. */                                                 \
    CV_INLINE void cv_bias_scatter_##SUF(const T *Q, int64_t n, double *gbias, double *GP,         \
                                         int64_t channels, int64_t inner, int64_t c, int64_t p) {  \
        if (GP) {                                                                                  \
            CV_SIMD for (int64_t i = 0; i < n; ++i) GP[c + i] += Q[i];                             \
            return;                                                                                \
        }                                                                                          \
        for (int64_t i = 0; i < n;) {                                                              \
            int64_t m;                                                                             \
            if (inner == 1) {                                                                      \
                m = channels - c < n - i ? channels - c : n - i;                                   \
                CV_SIMD for (int64_t t = 0; t < m; ++t) gbias[c + t] += Q[i + t];                  \
                c = (c + m) % channels;                                                            \
            } else {                                                                               \
                m = inner - p < n - i ? inner - p : n - i;                                         \
                T sum = 0;                                                                         \
                _Pragma("omp simd reduction(+ : sum)") for (int64_t t = 0; t < m; ++t) sum +=      \
                    Q[i + t];                                                                      \
                gbias[c] += sum;                                                                   \
                p = (p + m) % inner;                                                               \
                c = p == 0 ? (c + 1) % channels : c;                                               \
            }                                                                                      \
            i += m;                                                                                \
        }                                                                                          \
    }
BIAS_BLOCK_FNS(f32, float)
BIAS_BLOCK_FNS(f64, double)
/* The channel c and place p in its run of the element n places on (a division only where the
   step leaves the run). */
CV_INLINE void cv_bias_advance(int64_t *c, int64_t *p, int64_t n, int64_t channels, int64_t inner) {
    int64_t q = *p + n;
    if (q < inner) {
        *p = q;
        return;
    }
    *c = (*c + q / inner) % channels;
    *p = q % inner;
}
/* The sums GP of a period (cv_bias_scatter) into gbias's channels. */
CV_INLINE void cv_bias_fold(const double *GP, double *gbias, int64_t channels) {
    for (int64_t j = 0; j < CV_BLOCK + channels; ++j)
        gbias[j % channels] += GP[j];
}
/* c and p of element j (cv_bias_block). */
#define CV_BIAS_START(j)                                                                           \
    int64_t c = bias ? ((j) / inner) % channels : 0, p = bias ? (j) % inner : 0

/* Forward and backward of g(|z|) z/|z| for one kind, with a real parameter b that element j
   reads from bias[(j / inner) % channels] (a scalar: channels = 1; no bias: NULL, b = 0).
   The forward is g(r) u, so no g/r overflows at a tiny r. The backward writes PyTorch's
   vector-Jacobian product
     grad_z = (g' + g/r)/2 G + (g' - g/r)/2 u^2 conj(G) = u (g' q + i (g/r) p),
   q + ip = conj(u) G, which is g'(0) G at z = 0 (u = 0 there: the term E G), and, when gbias is
   not NULL, adds sum(g' q) per channel into gbias. Each block of CV_BLOCK elements is one call
   of NAME_fwd/bwd_block, with one b (B = NULL) or, spanning several channels' runs, the biases
   B in [b_lo, b_hi] (see CV_BIAS_AT). BLOCK##_fwd/_bwd may do a whole block another way first,
   from the split X, Y, the biases and (backward) their gradients, and return 1: ModReLU's and
   float32 ModTanh's and ModSigmoid's z-frame blocks. */
#define MODSCALE_KERNELS(NAME, SUF, T, GFN, BLOCK)                                                 \
    CV_INLINE void cv_##NAME##_fwd_block_##SUF(const T *zk, T *ok, int64_t n, T b, const T *B,     \
                                               T b_lo, T b_hi) {                                   \
        T X[CV_BLOCK], Y[CV_BLOCK], OX[CV_BLOCK], OY[CV_BLOCK], lo, hi;                            \
        (void)b;                                                                                   \
        cv_split_##SUF(zk, X, Y, n);                                                               \
        if (BLOCK##_fwd_##SUF(X, Y, zk, ok, n, b, B, b_lo, b_hi))                                  \
            return;                                                                                \
        CV_TWO_PASS(MODSCALE_FWD_PASS, SUF, T, GFN)                                                \
        CV_SIMD for (int64_t i = 0; i < n; ++i) {                                                  \
            ok[2 * i] = OX[i];                                                                     \
            ok[2 * i + 1] = OY[i];                                                                 \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_##NAME##_fwd_##SUF,                                                               \
              (const T *z, T *out, const T *bias, int64_t channels, int64_t inner),                \
              (z, out, bias, channels, inner)) {                                                   \
        T B[CV_BLOCK], P[2 * CV_BLOCK], b_lo, b_hi;                                                \
        const T *period = cv_bias_period_##SUF(bias, channels, inner, P) ? P : NULL;               \
        CV_BIAS_START(start);                                                                      \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            int64_t one = cv_bias_block_##SUF(bias, period, channels, inner, c, p, n, B, &b_lo,    \
                                              &b_hi);                                              \
            if (CV_LIKELY(one >= 0)) /* the common case's code first: 3 % faster (in L1) */        \
                cv_##NAME##_fwd_block_##SUF(z + 2 * k, out + 2 * k, n, b_lo, NULL, b_lo, b_lo);    \
            else                                                                                   \
                cv_##NAME##_fwd_block_##SUF(z + 2 * k, out + 2 * k, n, 0, B, b_lo, b_hi);          \
            if (bias)                                                                              \
                cv_bias_advance(&c, &p, n, channels, inner);                                       \
        }                                                                                          \
    }                                                                                              \
    /* Returns the block's bias gradient sum where B is NULL, else writes each element's to Q. */  \
    CV_INLINE T cv_##NAME##_bwd_block_##SUF(const T *zk, const T *gk, T *ok, int64_t n, T b,       \
                                            const T *B, T b_lo, T b_hi, T *Q) {                    \
        T X[CV_BLOCK], Y[CV_BLOCK], RT[CV_BLOCK], E[CV_BLOCK], C[CV_BLOCK], W[CV_BLOCK];           \
        T DG[CV_BLOCK], lo, hi, acc = 0, g_hi = 0;                                                 \
        (void)b;                                                                                   \
        cv_split_##SUF(zk, X, Y, n);                                                               \
        if (BLOCK##_bwd_##SUF(X, Y, zk, gk, ok, n, b, B, b_lo, b_hi, &acc, Q))                     \
            return acc;                                                                            \
        MODSCALE_BWD_PASS(SUF, T, GFN, 0)                                                          \
        int careful = !(lo >= CV_LO(T) && hi <= CV_HI(T) && -b_lo <= CV_B_SAFE(T) &&               \
                        b_hi <= CV_B_SAFE(T));                                                     \
        if (careful) {                                                                             \
            MODSCALE_BWD_PASS(SUF, T, GFN, 1)                                                      \
        } else {                                                                                   \
            MODSCALE_BWD_FINAL(T, 0)                                                               \
        }                                                                                          \
        if (careful || !(g_hi <= CV_G_SAFE(T))) {                                                  \
            MODSCALE_BWD_FINAL(T, 1)                                                               \
        }                                                                                          \
        return acc;                                                                                \
    }                                                                                              \
    CV_DEFINE(cv_##NAME##_bwd_##SUF,                                                               \
              (const T *z, const T *grad, T *gz, const T *bias, int64_t channels, int64_t inner,   \
               double *gbias),                                                                     \
              (z, grad, gz, bias, channels, inner, gbias ? gbias + cv_range * channels : NULL)) {  \
        T B[CV_BLOCK], Q[CV_BLOCK], P[2 * CV_BLOCK], b_lo, b_hi;                                   \
        double GP[2 * CV_BLOCK] = {0};                                                             \
        const T *period = cv_bias_period_##SUF(bias, channels, inner, P) ? P : NULL;               \
        CV_BIAS_START(start);                                                                      \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            const T *zk = z + 2 * k, *gk = grad + 2 * k;                                           \
            T *ok = gz + 2 * k;                                                                    \
            int64_t one = cv_bias_block_##SUF(bias, period, channels, inner, c, p, n, B, &b_lo,    \
                                              &b_hi);                                              \
            if (CV_LIKELY(one >= 0)) {                                                             \
                T sum = cv_##NAME##_bwd_block_##SUF(zk, gk, ok, n, b_lo, NULL, b_lo, b_lo, NULL);  \
                if (gbias)                                                                         \
                    gbias[one] += sum;                                                             \
            } else {                                                                               \
                cv_##NAME##_bwd_block_##SUF(zk, gk, ok, n, 0, B, b_lo, b_hi, Q);                   \
                if (gbias)                                                                         \
                    cv_bias_scatter_##SUF(Q, n, gbias, period ? GP : NULL, channels, inner, c, p); \
            }                                                                                      \
            if (bias)                                                                              \
                cv_bias_advance(&c, &p, n, channels, inner);                                       \
        }                                                                                          \
        if (period && gbias)                                                                       \
            cv_bias_fold(GP, gbias, channels);                                                     \
    }

/* Cardioid f = (1 + cos angle z) z / 2, cos angle z = x/r (0 at z = 0); its backward in real
   arithmetic with (c, w) = z/r:
     grad_x = (1 + c)/2 Gx + w/4 (Gy + 2cw Gx + (w^2 - c^2) Gy),
     grad_y = (1 + c)/2 Gy + w/4 ((w^2 - c^2) Gx - 2cw Gy - Gx). */
#define CARDIOID_FWD_PASS(SUF, T, GFN, SCALED)                                                     \
    lo = CV_HI(T);                                                                                 \
    hi = 0;                                                                                        \
    CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {                                                \
        CV_POLAR_AT(SUF, T, SCALED, i);                                                            \
        (void)w, (void)k, (void)inv;                                                               \
        S[i] = (c + 1) * (T)0.5;                                                                   \
    }
#define CARDIOID_BWD_PASS(SUF, T, GFN, SCALED)                                                     \
    lo = CV_HI(T);                                                                                 \
    hi = 0;                                                                                        \
    CV_SIMD_RANGE for (int64_t i = 0; i < n; ++i) {                                                \
        CV_POLAR_AT(SUF, T, SCALED, i);                                                            \
        (void)k, (void)inv;                                                                        \
        C[i] = c;                                                                                  \
        W[i] = w;                                                                                  \
    }
/* In blocks, as MODSCALE_KERNELS: split, the polar form unscaled where the block's moduli allow
   (CV_TWO_PASS), then the interleaved output: 26 % faster forward and 38 % backward than one
   loop with the scaling (Zen 4, in L1), and within an ulp of it (contractions into FMA). */
#define CARDIOID_KERNELS(SUF, T)                                                                   \
    CV_DEFINE(cv_cardioid_fwd_##SUF, (const T *z, T *out), (z, out)) {                             \
        T X[CV_BLOCK], Y[CV_BLOCK], S[CV_BLOCK], lo, hi;                                           \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            const T *zk = z + 2 * k;                                                               \
            T *ok = out + 2 * k;                                                                   \
            cv_split_##SUF(zk, X, Y, n);                                                           \
            CV_TWO_PASS(CARDIOID_FWD_PASS, SUF, T, 0)                                              \
            cv_scale_##SUF(S, X, Y, ok, n);                                                        \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_cardioid_bwd_##SUF, (const T *z, const T *grad, T *gz), (z, grad, gz)) {          \
        T X[CV_BLOCK], Y[CV_BLOCK], C[CV_BLOCK], W[CV_BLOCK], lo, hi;                              \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            const T *gk = grad + 2 * k;                                                            \
            T *ok = gz + 2 * k;                                                                    \
            cv_split_##SUF(z + 2 * k, X, Y, n);                                                    \
            CV_TWO_PASS(CARDIOID_BWD_PASS, SUF, T, 0)                                              \
            CV_SIMD for (int64_t i = 0; i < n; ++i) {                                              \
                T gx = gk[2 * i], gy = gk[2 * i + 1], c = C[i], w = W[i];                          \
                T a = 2 * c * w, b = w * w - c * c, half = (1 + c) * (T)0.5, qw = (T)0.25 * w;     \
                ok[2 * i] = half * gx + qw * (gy + a * gx + b * gy);                               \
                ok[2 * i + 1] = half * gy + qw * (b * gx - a * gy - gx);                           \
            }                                                                                      \
        }                                                                                          \
    }

/* zReLU: z where Re z > 0 and Im z > 0, else 0 as PyTorch's complex product z * mask gives
   it: (x - x) + (y - y), which is +0 where z is finite and NaN in both parts where either
   part is NaN or infinite (the product mixes the parts). (x + y) 0 was NaN where finite parts
   of one sign sum past the largest float, as -3e38 - 3e38i. The backward is G mask. */
#define ZRELU_KERNELS(SUF, T)                                                                      \
    CV_DEFINE(cv_zrelu_fwd_##SUF, (const T *z, T *out), (z, out)) {                                \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1], zero = (x - x) + (y - y);                            \
            int m = x > 0 && y > 0;                                                                \
            out[2 * i] = m ? x : zero;                                                             \
            out[2 * i + 1] = m ? y : zero;                                                         \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_zrelu_bwd_##SUF, (const T *z, const T *grad, T *gz), (z, grad, gz)) {             \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1]; /* loaded before &&, which would make y's            \
                                                 load conditional and stop vectorisation */        \
            T m = (x > 0 && y > 0) ? (T)1 : (T)0;                                                  \
            gz[2 * i] = grad[2 * i] * m + 0;                                                       \
            gz[2 * i + 1] = grad[2 * i + 1] * m + 0;                                               \
        }                                                                                          \
    }

/* PReLU on Re and Im, max(t, 0) + w min(t, 0), with slopes that element j reads from
   w0[(j / inner) % channels] (Re) and w1[...] (Im), as MODSCALE_KERNELS reads its bias (one
   pair: channels = 1); the backward adds sum(G min(t, 0)) per part and channel into gw, Re's
   channels first. A block of one channel's run takes that pair (A0 = A1 = NULL), one across
   several takes each element's slopes from A0, A1 (and writes its gradients to Q0, Q1). */
/* The slopes' periods P0, P1 where they apply (periodic) and the channel state at start. */
#define CPRELU_START(SUF, T)                                                                       \
    T P0[2 * CV_BLOCK], P1[2 * CV_BLOCK];                                                          \
    const T *bias = w0;                                                                            \
    int periodic = cv_bias_period_##SUF(w0, channels, inner, P0);                                  \
    cv_bias_period_##SUF(w1, channels, inner, P1);                                                 \
    CV_BIAS_START(start)
#define CPRELU_KERNELS(SUF, T)                                                                     \
    CV_INLINE void cv_cprelu_fwd_block_##SUF(const T *zk, T *ok, int64_t n, T a0, T a1,            \
                                             const T *A0, const T *A1) {                           \
        CV_SIMD for (int64_t i = 0; i < n; ++i) {                                                  \
            T x = zk[2 * i], y = zk[2 * i + 1], s0 = A0 ? A0[i] : a0, s1 = A1 ? A1[i] : a1;        \
            ok[2 * i] = (x < 0 ? (T)0 : x) + s0 * (x > 0 ? (T)0 : x);                              \
            ok[2 * i + 1] = (y < 0 ? (T)0 : y) + s1 * (y > 0 ? (T)0 : y);                          \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_cprelu_fwd_##SUF,                                                                 \
              (const T *z, T *out, const T *w0, const T *w1, int64_t channels, int64_t inner),     \
              (z, out, w0, w1, channels, inner)) {                                                 \
        T A0[CV_BLOCK], A1[CV_BLOCK], lo, hi;                                                      \
        CPRELU_START(SUF, T);                                                                      \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            int64_t one = cv_bias_block_##SUF(w0, periodic ? P0 : NULL, channels, inner, c, p, n,  \
                                              A0, &lo, &hi);                                       \
            if (CV_LIKELY(one >= 0)) {                                                             \
                cv_cprelu_fwd_block_##SUF(z + 2 * k, out + 2 * k, n, w0[one], w1[one], NULL,       \
                                          NULL);                                                   \
            } else {                                                                               \
                cv_bias_block_##SUF(w1, periodic ? P1 : NULL, channels, inner, c, p, n, A1, &lo,   \
                                    &hi);                                                          \
                cv_cprelu_fwd_block_##SUF(z + 2 * k, out + 2 * k, n, 0, 0, A0, A1);                \
            }                                                                                      \
            cv_bias_advance(&c, &p, n, channels, inner);                                           \
        }                                                                                          \
    }                                                                                              \
    CV_INLINE void cv_cprelu_bwd_block_##SUF(const T *zk, const T *gk, T *ok, int64_t n, T a0,     \
                                             T a1, const T *A0, const T *A1, T *sum0, T *sum1,     \
                                             T *Q0, T *Q1) {                                       \
        T acc0 = 0, acc1 = 0;                                                                      \
        CV_SIMD_SUM2 for (int64_t i = 0; i < n; ++i) {                                             \
            T x = zk[2 * i], y = zk[2 * i + 1], gx = gk[2 * i], gy = gk[2 * i + 1];                \
            T s0 = A0 ? A0[i] : a0, s1 = A1 ? A1[i] : a1;                                          \
            ok[2 * i] = x < 0 ? s0 * gx : gx;                                                      \
            ok[2 * i + 1] = y < 0 ? s1 * gy : gy;                                                  \
            T q0 = gx * (x > 0 ? (T)0 : x), q1 = gy * (y > 0 ? (T)0 : y);                          \
            if (Q0) {                                                                              \
                Q0[i] = q0;                                                                        \
                Q1[i] = q1;                                                                        \
            } else {                                                                               \
                acc0 += q0;                                                                        \
                acc1 += q1;                                                                        \
            }                                                                                      \
        }                                                                                          \
        *sum0 = acc0;                                                                              \
        *sum1 = acc1;                                                                              \
    }                                                                                              \
    CV_DEFINE(cv_cprelu_bwd_##SUF,                                                                 \
              (const T *z, const T *grad, T *gz, const T *w0, const T *w1, int64_t channels,       \
               int64_t inner, double *gw),                                                         \
              (z, grad, gz, w0, w1, channels, inner, gw + 2 * channels * cv_range)) {              \
        T A0[CV_BLOCK], A1[CV_BLOCK], Q0[CV_BLOCK], Q1[CV_BLOCK], lo, hi, sum0, sum1;              \
        double GP0[2 * CV_BLOCK] = {0}, GP1[2 * CV_BLOCK] = {0};                                   \
        CPRELU_START(SUF, T);                                                                      \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            const T *zk = z + 2 * k, *gk = grad + 2 * k;                                           \
            T *ok = gz + 2 * k;                                                                    \
            int64_t one = cv_bias_block_##SUF(w0, periodic ? P0 : NULL, channels, inner, c, p, n,  \
                                              A0, &lo, &hi);                                       \
            if (CV_LIKELY(one >= 0)) {                                                             \
                cv_cprelu_bwd_block_##SUF(zk, gk, ok, n, w0[one], w1[one], NULL, NULL, &sum0,      \
                                          &sum1, NULL, NULL);                                      \
                gw[one] += sum0;                                                                   \
                gw[channels + one] += sum1;                                                        \
            } else {                                                                               \
                cv_bias_block_##SUF(w1, periodic ? P1 : NULL, channels, inner, c, p, n, A1, &lo,   \
                                    &hi);                                                          \
                cv_cprelu_bwd_block_##SUF(zk, gk, ok, n, 0, 0, A0, A1, &sum0, &sum1, Q0, Q1);      \
                cv_bias_scatter_##SUF(Q0, n, gw, periodic ? GP0 : NULL, channels, inner, c, p);    \
                cv_bias_scatter_##SUF(Q1, n, gw + channels, periodic ? GP1 : NULL, channels,       \
                                      inner, c, p);                                                \
            }                                                                                      \
            cv_bias_advance(&c, &p, n, channels, inner);                                           \
        }                                                                                          \
        if (periodic) {                                                                            \
            cv_bias_fold(GP0, gw, channels);                                                       \
            cv_bias_fold(GP1, gw + channels, channels);                                            \
        }                                                                                          \
    }

/* ReLU of Re and Im, over the 2n reals, as torch.relu: 0 where t <= 0, t elsewhere (NaN kept);
   the backward from the saved output as torch's threshold_backward: 0 where out <= 0, else G
   (which passes G on at a NaN). */
#define CRELU_KERNELS(SUF, T)                                                                      \
    CV_DEFINE(cv_crelu_fwd_##SUF, (const T *z, T *out), (z, out)) {                                \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) out[i] = z[i] <= 0 ? (T)0 : z[i];   \
    }                                                                                              \
    CV_DEFINE(cv_crelu_bwd_##SUF, (const T *out, const T *grad, T *gz), (out, grad, gz)) {         \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) {                                   \
            T g = grad[i]; /* read always: a read under the condition was a masked load */         \
            gz[i] = out[i] <= 0 ? (T)0 : g;                                                        \
        }                                                                                          \
    }

/* tanh of Re and Im, over the 2n reals; the backward G (1 - out^2) from the saved output. */
#define CTANH_KERNELS(SUF, T)                                                                      \
    CV_DEFINE(cv_ctanh_fwd_##SUF, (const T *z, T *out), (z, out)) {                                \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) out[i] = cv_tanh_##SUF(z[i]);       \
    }                                                                                              \
    CV_DEFINE(cv_ctanh_bwd_##SUF, (const T *out, const T *grad, T *gz), (out, grad, gz)) {         \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) gz[i] =                             \
            grad[i] * (1 - out[i] * out[i]);                                                       \
    }

/* Over the reals z[i] of [2 start, 2 stop), in blocks: STMT with t = z[i] and e = e^X (X an
   expression of t, at most 0 or selected away above 0), taken with one scale factor; blocks
   where some LOW < CV_EXP_LO1 (LOW = X: some e^X below the normal numbers) are redone with
   two. Where X = -|t| and LOW = t, e^X for t > -CV_EXP_LO1 is also below them, but then only
   1 + e is used. */
#define CV_EXP_BLOCKS(SUF, T, X, LOW, STMT)                                                        \
    for (int64_t k = 2 * start; k < 2 * stop; k += 2 * CV_BLOCK) {                                 \
        int64_t end = k + 2 * CV_BLOCK < 2 * stop ? k + 2 * CV_BLOCK : 2 * stop;                   \
        T lo = 0;                                                                                  \
        _Pragma("omp simd reduction(min : lo)") for (int64_t i = k; i < end; ++i) {                \
            T t = z[i], e = cv_exp_##SUF(X, 0, 0);                                                 \
            STMT;                                                                                  \
            lo = (LOW) < lo ? (LOW) : lo;                                                          \
        }                                                                                          \
        if (!(lo >= CV_EXP_LO1(T)))                                                                \
            CV_SIMD for (int64_t i = k; i < end; ++i) {                                            \
                T t = z[i], e = cv_exp_##SUF(X, 1, 0);                                             \
                STMT;                                                                              \
            }                                                                                      \
    }

/* sigmoid of Re and Im, over the 2n reals: with e = e^(-|t|) in (0, 1], 1 / (1 + e) for t >= 0
   and e / (1 + e) below, so that no e^t overflows and the tail keeps its relative accuracy
   (0.5 + 0.5 tanh(t/2) would cancel there); the backward G (1 - out) out from the saved output,
   as torch's sigmoid_backward. As CELU's backward, the forward takes e with one scale factor
   and redoes with two the blocks where some t < CV_EXP_LO1 (a denormal output): 6 % faster
   (Zen 4, in L1). Above -CV_EXP_LO1, 1 / (1 + e) is 1 with either. */
#define CSIGMOID_KERNELS(SUF, T)                                                                   \
    CV_DEFINE(cv_csigmoid_fwd_##SUF, (const T *z, T *out), (z, out)) {                             \
        CV_EXP_BLOCKS(SUF, T, -fabs(t), t, out[i] = (t >= 0 ? (T)1 : e) / (1 + e));                \
    }                                                                                              \
    CV_DEFINE(cv_csigmoid_bwd_##SUF, (const T *out, const T *grad, T *gz), (out, grad, gz)) {      \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) gz[i] =                             \
            grad[i] * (1 - out[i]) * out[i];                                                       \
    }

/* ELU of Re and Im, over the 2n reals, as torch.nn.functional.elu with an input scale c > 0
   (1: ELU; 1/alpha: torch's CELU): t for t > 0, else alpha (e^(c t) - 1); the backward G for
   t > 0, else G (alpha c) e^(c t), which is NaN at a NaN t (torch's float32 elu_backward
   passes G on there). The backward takes e^(c t) with one scale factor (cv_exp_reduce) and
   redoes, with two, the blocks where some e^(c t) is below the normal numbers: 11 % faster
   (Zen 4, in L1), denormal e^t as exact as before. Two families from one body: `celu` (ELU,
   X = t, c unused) and `ccelu` (X = c t). ELU with the multiplications by c = 1, or with both
   loops in one function behind `if (c == 1)`, ran 5-10 % slower (at 2^18 and 2^21 elements,
   one thread); with input_scale = 1, ccelu gives celu's results bit for bit. */
#define CELU_KERNELS(NAME, SUF, T, X)                                                              \
    CV_DEFINE(cv_##NAME##_fwd_##SUF, (const T *z, T *out, double alpha, double input_scale),       \
              (z, out, alpha, input_scale)) {                                                      \
        const T a = (T)alpha, c = (T)input_scale;                                                  \
        (void)c;                                                                                   \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) {                                   \
            T t = z[i], e = cv_expm1_##SUF(X, 0);                                                  \
            out[i] = t > 0 ? t : a * e;                                                            \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_##NAME##_bwd_##SUF,                                                               \
              (const T *z, const T *grad, T *gz, double alpha, double input_scale),                \
              (z, grad, gz, alpha, input_scale)) {                                                 \
        const T ac = (T)(alpha * input_scale), c = (T)input_scale;                                 \
        (void)c;                                                                                   \
        CV_EXP_BLOCKS(SUF, T, X, X, gz[i] = t > 0 ? grad[i] : grad[i] * (ac * e));                 \
    }

/* |z| and its backward grad * z/|z| (0 at z = 0), through cv_polar (no over- or underflow). */
#define ABS_KERNELS(SUF, T)                                                                        \
    CV_DEFINE(cv_abs_fwd_##SUF, (const T *z, T *out), (z, out)) {                                  \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T c, w, k, inv;                                                                        \
            out[i] = cv_polar_##SUF(z[2 * i], z[2 * i + 1], 1, &c, &w, &k, &inv);                  \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_abs_bwd_##SUF, (const T *z, const T *grad, T *gz), (z, grad, gz)) {               \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T c, w, k, inv;                                                                        \
            cv_polar_##SUF(z[2 * i], z[2 * i + 1], 1, &c, &w, &k, &inv);                           \
            gz[2 * i] = grad[i] * c;                                                               \
            gz[2 * i + 1] = grad[i] * w;                                                           \
        }                                                                                          \
    }

/* Adam with moment="modulus", from the first moment on (optim/adam.py): per complex element,
   with G = g or conj(g) (sign_im = -1), in the order of the foreach path it replaces,
     m <- beta1 m + (1 - beta1) G,
     v <- beta2 v + (1 - beta2) Re(g)^2 + (1 - beta2) Im(g)^2,  (AMSGrad: vmax <- max(vmax, v))
     p <- p + step (m / (sqrt(v) / bc2 + eps))  for Re and Im with the one real denominator.
   One pass instead of a first-moment pass, four strided real/imag passes and three over v. */
#define ADAM_MODULUS_KERNEL(SUF, T)                                                                \
    CV_DEFINE(cv_adam_modulus_##SUF,                                                               \
              (T *p, T *m, T *v, T *vmax, const T *g, double beta1_, double beta2_, double bc2_,   \
               double eps_, double step_, double sign_im_),                                        \
              (p, m, v, vmax, g, beta1_, beta2_, bc2_, eps_, step_, sign_im_)) {                   \
        const T beta1 = (T)beta1_, c1 = (T)(1 - beta1_), beta2 = (T)beta2_;                        \
        const T c2 = (T)(1 - beta2_), bc2 = (T)bc2_, eps = (T)eps_, step = (T)step_;               \
        const T sign_im = (T)sign_im_;                                                             \
        T D[CV_BLOCK];                                                                             \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t n = stop - k < CV_BLOCK ? stop - k : CV_BLOCK;                                 \
            const T *gk = g + 2 * k;                                                               \
            T *vk = v + k, *pk = p + 2 * k, *mk = m + 2 * k;                                       \
            CV_SIMD for (int64_t i = 0; i < n; ++i) {                                              \
                T gx = gk[2 * i], gy = gk[2 * i + 1];                                              \
                T vi = vk[i] * beta2 + c2 * gx * gx + c2 * gy * gy;                                \
                vk[i] = vi;                                                                        \
                D[i] = vi;                                                                         \
            }                                                                                      \
            if (vmax) {                                                                            \
                T *wk = vmax + k;                                                                  \
                CV_SIMD for (int64_t i = 0; i < n; ++i) {                                          \
                    T top = wk[i] > D[i] ? wk[i] : D[i];                                           \
                    wk[i] = top;                                                                   \
                    D[i] = top;                                                                    \
                }                                                                                  \
            }                                                                                      \
            CV_SIMD for (int64_t i = 0; i < n; ++i) D[i] = sqrt(D[i]) / bc2 + eps;                 \
            CV_SIMD for (int64_t i = 0; i < n; ++i) {                                              \
                T mx = mk[2 * i] * beta1 + c1 * gk[2 * i];                                         \
                T my = mk[2 * i + 1] * beta1 + c1 * (sign_im * gk[2 * i + 1]);                     \
                mk[2 * i] = mx;                                                                    \
                mk[2 * i + 1] = my;                                                                \
                pk[2 * i] += step * mx / D[i];                                                     \
                pk[2 * i + 1] += step * my / D[i];                                                 \
            }                                                                                      \
        }                                                                                          \
    }

/* Componentwise Adam on the conjugated gradient (conjugate=False without L2 decay), from the
   first moment on, for Re and Im alike with G = (gx, -gy), in the foreach path's order:
     m <- beta1 m + (1 - beta1) G,  v <- beta2 v + (1 - beta2) G^2,  (AMSGrad: vmax <- max)
     p <- p + step (m / (sqrt(v) / bc2 + eps)). */
#define ADAM_CONJ_KERNEL(SUF, T)                                                                   \
    CV_DEFINE(cv_adam_conj_##SUF,                                                                  \
              (T *p, T *m, T *v, T *vmax, const T *g, double beta1_, double beta2_, double bc2_,   \
               double eps_, double step_),                                                         \
              (p, m, v, vmax, g, beta1_, beta2_, bc2_, eps_, step_)) {                             \
        const T beta1 = (T)beta1_, c1 = (T)(1 - beta1_), beta2 = (T)beta2_;                        \
        const T c2 = (T)(1 - beta2_), bc2 = (T)bc2_, eps = (T)eps_, step = (T)step_;               \
        CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) {                                   \
            T gi = (i & 1) ? -g[i] : g[i];                                                         \
            T mi = m[i] * beta1 + c1 * gi;                                                         \
            T vi = v[i] * beta2 + c2 * gi * gi;                                                    \
            T top = vi;                                                                            \
            if (vmax) {                                                                            \
                top = vmax[i] > vi ? vmax[i] : vi;                                                 \
                vmax[i] = top;                                                                     \
            }                                                                                      \
            m[i] = mi;                                                                             \
            v[i] = vi;                                                                             \
            p[i] += step * mi / (sqrt(top) / bc2 + eps);                                           \
        }                                                                                          \
    }

/* Whitening batch norm (cvlayers/_norm.py) on (N, C, L) data, element j in channel
   (j / inner) % channels. With inner > 1 it is taken run by run (a run: the inner elements of
   one channel in one sample), in pieces of at most CV_BLOCK summed in the input type and added
   up in double. With inner = 1 (channels last: (N, C), or (N, *spatial, C) in memory) it is
   taken row by row, vectorised over the channels, each value added to its channel's double
   sums. With `exact` (batch norm's moments, no g) the sums are in double throughout, of
   products that are exact in double: their covariance's determinant cancels (see bn_moments);
   rows then go four at a time, so that the double sums are read once per four rows (at
   (4096, 512) the pass took 2.2 ms one row at a time, 1.0-1.3 four at a time, 0.74 in float).
   The power norms' moments need no such care (a variance does not cancel so), and keep the
   float sums, 1.5-1.6x faster than double (layer norm rows of 512, group norm planes of 4096,
   L3-resident). bn_sums: per channel,
   with d = z - shift[c] (a complex per channel), into the planar acc[k channels + c],
   k = 0..5: without g, the sums of dx, dy, dx^2, dx dy, dy^2 (and 0); with g, those of gx,
   gy, gx dx, gx dy, gy dx, gy dy. bn_affine: out = A u + K (v - m) + o per channel, the
   planar coef[q channels + c], q = 0..11, holding A (row by row), K, o and the centre m;
   v NULL: out = A (u - m) + o. The centre is subtracted before the 2x2 maps: A z - A mean left
   A times an ulp of z, which a large A (a near-singular covariance) or a large mean makes
   large against the output (BatchNorm1d on 3 samples: 5x the torch ops' error). */
/* Spans of [start, stop) through the (channel, run) structure without a division per span:
   channel c from element j on, m elements long (to the end of the run or, with inner = 1, of
   the row; callers may shorten m), then on to the next span. */
/* Rows summed in the input type before their sums go into the double ones: each value of a
   channel's sum then carries the rounding of at most 32 float additions (with 256, Sum G over
   2000 rows missed its float64 value by 5x the torch ops' error, with 32 by 1.2x; the sums
   pass at (4096, 512) took 0.81-0.82 ms with 256, 0.87-0.88 with 32). */
#define CV_BN_ROWS 32
#define CV_BN_FIRST_SPAN int64_t c = (start / inner) % channels, p = start % inner
#define CV_BN_SPAN(j)                                                                              \
    int64_t m = inner > 1 ? inner - p : channels - c;                                              \
    m = m < stop - (j) ? m : stop - (j)
#define CV_BN_NEXT_SPAN                                                                            \
    p = inner > 1 ? p + m : 0;                                                                     \
    c = inner > 1 ? c + (p == inner) : c + m;                                                      \
    p = p == inner ? 0 : p;                                                                        \
    c = c == channels ? 0 : c
/* bn_affine's loop over m elements at uk, vk (v NULL: none) into ok, K(q) its element i's
   coefficient q. */
#define CV_BN_ROW_K(q) k[(q) * C + i]
#define CV_BN_RUN_K(q) kc[q]
#define CV_BN_AFFINE_LOOP(T, m, K)                                                                 \
    if (v) {                                                                                       \
        CV_SIMD for (int64_t i = 0; i < m; ++i) {                                                  \
            T ux = uk[2 * i], uy = uk[2 * i + 1];                                                  \
            T vx = vk[2 * i] - K(10), vy = vk[2 * i + 1] - K(11);                                  \
            ok[2 * i] = K(0) * ux + K(1) * uy + K(4) * vx + K(5) * vy + K(8);                      \
            ok[2 * i + 1] = K(2) * ux + K(3) * uy + K(6) * vx + K(7) * vy + K(9);                  \
        }                                                                                          \
    } else {                                                                                       \
        CV_SIMD for (int64_t i = 0; i < m; ++i) {                                                  \
            T ux = uk[2 * i] - K(10), uy = uk[2 * i + 1] - K(11);                                  \
            ok[2 * i] = K(0) * ux + K(1) * uy + K(8);                                              \
            ok[2 * i + 1] = K(2) * ux + K(3) * uy + K(9);                                          \
        }                                                                                          \
    }
#define BN_KERNELS(SUF, T)                                                                         \
    CV_INLINE void cv_bn_row_sums_##SUF(const T *zk, const T *gk, const T *sk, int64_t m, T *a,    \
                                        int64_t channels) {                                        \
        T *a0 = a, *a1 = a + channels, *a2 = a1 + channels, *a3 = a2 + channels;                   \
        T *a4 = a3 + channels, *a5 = a4 + channels;                                                \
        if (gk) {                                                                                  \
            CV_SIMD for (int64_t i = 0; i < m; ++i) {                                              \
                T dx = zk[2 * i] - sk[2 * i], dy = zk[2 * i + 1] - sk[2 * i + 1];                  \
                T gx = gk[2 * i], gy = gk[2 * i + 1];                                              \
                a0[i] += gx, a1[i] += gy, a2[i] += gx * dx, a3[i] += gx * dy;                      \
                a4[i] += gy * dx, a5[i] += gy * dy;                                                \
            }                                                                                      \
        } else {                                                                                   \
            CV_SIMD for (int64_t i = 0; i < m; ++i) {                                              \
                T dx = zk[2 * i] - sk[2 * i], dy = zk[2 * i + 1] - sk[2 * i + 1];                  \
                a0[i] += dx, a1[i] += dy, a2[i] += dx * dx, a3[i] += dx * dy, a4[i] += dy * dy;    \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    CV_INLINE void cv_bn_row_moments_##SUF(const T *zk, const T *sk, int64_t m, int64_t rows,      \
                                           double *a, int64_t channels) {                          \
        double *a0 = a, *a1 = a + channels, *a2 = a1 + channels, *a3 = a2 + channels;              \
        double *a4 = a3 + channels;                                                                \
        const T *z1 = zk + 2 * channels * (rows > 1), *z2 = z1 + 2 * channels * (rows > 2);        \
        const T *z3 = z2 + 2 * channels * (rows > 3);                                              \
        double w1 = rows > 1, w2 = rows > 2, w3 = rows > 3;                                        \
        CV_SIMD for (int64_t i = 0; i < m; ++i) {                                                  \
            double sx = sk[2 * i], sy = sk[2 * i + 1];                                             \
            double x0 = zk[2 * i] - sx, y0 = zk[2 * i + 1] - sy;                                   \
            double x1 = w1 * (z1[2 * i] - sx), y1 = w1 * (z1[2 * i + 1] - sy);                     \
            double x2 = w2 * (z2[2 * i] - sx), y2 = w2 * (z2[2 * i + 1] - sy);                     \
            double x3 = w3 * (z3[2 * i] - sx), y3 = w3 * (z3[2 * i + 1] - sy);                     \
            a0[i] += (x0 + x1) + (x2 + x3), a1[i] += (y0 + y1) + (y2 + y3);                        \
            a2[i] += (x0 * x0 + x1 * x1) + (x2 * x2 + x3 * x3);                                    \
            a3[i] += (x0 * y0 + x1 * y1) + (x2 * y2 + x3 * y3);                                    \
            a4[i] += (y0 * y0 + y1 * y1) + (y2 * y2 + y3 * y3);                                    \
        }                                                                                          \
    }                                                                                              \
    CV_INLINE void cv_bn_flush_##SUF(T *work, double *acc, int64_t n) {                            \
        CV_SIMD for (int64_t k = 0; k < n; ++k) {                                                  \
            acc[k] += work[k];                                                                     \
            work[k] = 0;                                                                           \
        }                                                                                          \
    }                                                                                              \
    CV_INLINE void cv_bn_run_sums_##SUF(const T *zk, const T *gk, T sx, T sy, int64_t m,           \
                                        int64_t exact, double *a, int64_t channels) {              \
        if (!gk && !exact) {                                                                       \
            T s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;                                              \
            _Pragma("omp simd reduction(+ : s0, s1, s2, s3, s4)") for (int64_t i = 0; i < m;       \
                                                                     ++i) {                        \
                T dx = zk[2 * i] - sx, dy = zk[2 * i + 1] - sy;                                    \
                s0 += dx, s1 += dy, s2 += dx * dx, s3 += dx * dy, s4 += dy * dy;                   \
            }                                                                                      \
            a[0] += s0, a[channels] += s1, a[2 * channels] += s2, a[3 * channels] += s3;           \
            a[4 * channels] += s4;                                                                 \
        } else if (gk) {                                                                           \
            T s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0;                                      \
            _Pragma("omp simd reduction(+ : s0, s1, s2, s3, s4, s5)") for (int64_t i = 0; i < m;   \
                                                                         ++i) {                    \
                T dx = zk[2 * i] - sx, dy = zk[2 * i + 1] - sy;                                    \
                T gx = gk[2 * i], gy = gk[2 * i + 1];                                              \
                s0 += gx, s1 += gy, s2 += gx * dx, s3 += gx * dy, s4 += gy * dx, s5 += gy * dy;    \
            }                                                                                      \
            a[0] += s0, a[channels] += s1, a[2 * channels] += s2, a[3 * channels] += s3;           \
            a[4 * channels] += s4, a[5 * channels] += s5;                                          \
        } else {                                                                                   \
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;                                         \
            _Pragma("omp simd reduction(+ : s0, s1, s2, s3, s4)") for (int64_t i = 0; i < m;       \
                                                                     ++i) {                        \
                double dx = (double)zk[2 * i] - sx, dy = (double)zk[2 * i + 1] - sy;               \
                s0 += dx, s1 += dy, s2 += dx * dx, s3 += dx * dy, s4 += dy * dy;                   \
            }                                                                                      \
            a[0] += s0, a[channels] += s1, a[2 * channels] += s2, a[3 * channels] += s3;           \
            a[4 * channels] += s4;                                                                 \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE(cv_bn_sums_##SUF,                                                                    \
              (const T *z, const T *g, const T *shift, int64_t channels, int64_t inner,            \
               int64_t exact, T *work, double *acc),                                               \
              (z, g, shift, channels, inner, exact, work ? work + 6 * channels * cv_range : NULL,  \
               acc + 6 * channels * cv_range)) {                                                   \
        int64_t rows = 0; /* rows summed into work since it was last added to acc */               \
        CV_BN_FIRST_SPAN;                                                                          \
        for (int64_t j = start; j < stop;) {                                                       \
            CV_BN_SPAN(j);                                                                         \
            const T *gk = g ? g + 2 * j : NULL;                                                    \
            if (inner == 1 && exact && !g) { /* 4 whole rows at a time, acc read once */           \
                int64_t whole = c == 0 ? (stop - j) / channels : 0;                                \
                whole = whole < 4 ? whole : 4;                                                     \
                if (whole > 1) {                                                                   \
                    cv_bn_row_moments_##SUF(z + 2 * j, shift, channels, whole, acc, channels);     \
                    j += whole * channels;                                                         \
                    continue;                                                                      \
                }                                                                                  \
                cv_bn_row_moments_##SUF(z + 2 * j, shift + 2 * c, m, 1, acc + c, channels);        \
            } else if (inner == 1) {                                                               \
                cv_bn_row_sums_##SUF(z + 2 * j, gk, shift + 2 * c, m, work + c, channels);         \
                if (++rows == CV_BN_ROWS) {                                                        \
                    cv_bn_flush_##SUF(work, acc, 6 * channels);                                    \
                    rows = 0;                                                                      \
                }                                                                                  \
            } else {                                                                               \
                m = m < CV_BLOCK ? m : CV_BLOCK;                                                   \
                T sx = shift[2 * c], sy = shift[2 * c + 1];                                        \
                cv_bn_run_sums_##SUF(z + 2 * j, gk, sx, sy, m, exact, acc + c, channels);          \
            }                                                                                      \
            j += m;                                                                                \
            CV_BN_NEXT_SPAN;                                                                       \
        }                                                                                          \
        if (rows)                                                                                  \
            cv_bn_flush_##SUF(work, acc, 6 * channels);                                            \
    }                                                                                              \
    CV_DEFINE(cv_bn_affine_##SUF,                                                                  \
              (const T *u, const T *v, T *out, const T *coef, int64_t channels, int64_t inner),    \
              (u, v, out, coef, channels, inner)) {                                                \
        const int64_t C = channels;                                                                \
        CV_BN_FIRST_SPAN;                                                                          \
        for (int64_t j = start; j < stop;) {                                                       \
            CV_BN_SPAN(j);                                                                         \
            const T *uk = u + 2 * j, *vk = v + 2 * j, *k = coef + c;                               \
            T *ok = out + 2 * j;                                                                   \
            if (inner == 1) { /* a coefficient per element of the row */                           \
                CV_BN_AFFINE_LOOP(T, m, CV_BN_ROW_K);                                              \
            } else {                                                                               \
                T kc[12];                                                                          \
                for (int q = 0; q < 12; ++q)                                                       \
                    kc[q] = k[q * C];                                                              \
                CV_BN_AFFINE_LOOP(T, m, CV_BN_RUN_K);                                              \
            }                                                                                      \
            j += m;                                                                                \
            CV_BN_NEXT_SPAN;                                                                       \
        }                                                                                          \
    }

/* Batch norm's per-channel 2x2 maths (cvlayers/_norm.py), in double, channel by channel: on
   small batches the ~100 small torch ops it took per training step outweighed the passes over
   the data (BatchNorm1d(256) on (64, 256): 0.98 ms against 0.09 for torch's real layer). The
   formulas, and the names, are those of _norm.py's eager maths; a symmetric 2x2 matrix is
   (rr, ri, ii), a general one (rr, ri, ir, ii) row by row. */
typedef struct {
    double rr, ri, ii;
} cv_sym2;
typedef struct {
    double rr, ri, ir, ii;
} cv_mat2;

/* sqrt(det V) for V = C + eps I, C a covariance: det V = det C + eps tr C + eps^2, whose
   det C (all that cancels) is taken as at least 0, as a covariance's is. A C that rounding left
   a little indefinite (a channel with Im = a Re) then gives a finite W, as eps promises. */
CV_INLINE double cv_root_det(cv_sym2 v, double eps) {
    double det = v.rr * v.ii - v.ri * v.ri, least = eps * (v.rr + v.ii) - eps * eps;
    return sqrt(det > least ? det : least);
}

/* W = V^{-1/2} for V = C + eps I (cv_root_det): with s = sqrt(det V), t = sqrt(tr V + 2 s),
   W = (adj V + s I) / (s t). */
CV_INLINE cv_sym2 cv_inverse_sqrt_2x2(cv_sym2 v, double eps) {
    double s = cv_root_det(v, eps), t = sqrt(v.rr + v.ii + 2 * s);
    double inv = 1.0 / (s * t);
    return (cv_sym2){(v.ii + s) * inv, -v.ri * inv, (v.rr + s) * inv};
}

/* M = Gamma W, Gamma = g (without has_gamma: I/sqrt(2)). Structures go by value, and the
   callers' loops over channels take has_gamma as a constant: so they vectorise. */
CV_INLINE cv_mat2 cv_mix(int has_gamma, cv_sym2 g, cv_sym2 w) {
    if (!has_gamma) {
        double h = 1.0 / sqrt(2.0);
        return (cv_mat2){h * w.rr, h * w.ri, h * w.ri, h * w.ii};
    }
    return (cv_mat2){g.rr * w.rr + g.ri * w.ri, g.rr * w.ri + g.ri * w.ii,
                     g.ri * w.rr + g.ii * w.ri, g.ri * w.ri + g.ii * w.ii};
}

/* A C A for symmetric A and C. */
CV_INLINE cv_sym2 cv_sandwich(cv_sym2 a, cv_sym2 c) {
    cv_mat2 ac = {a.rr * c.rr + a.ri * c.ri, a.rr * c.ri + a.ri * c.ii, a.ri * c.rr + a.ii * c.ri,
                  a.ri * c.ri + a.ii * c.ii};
    return (cv_sym2){ac.rr * a.rr + ac.ri * a.ri, ac.rr * a.ri + ac.ri * a.ii,
                     ac.ir * a.ri + ac.ii * a.ii};
}

/* The gradient of L with respect to V (as dL/d(V_rr, V_ri, V_ii)) for dL/dM = p (sums of
   G c^T), M = Gamma W (cv_mix) and V = v (its eps added; cv_root_det), in closed form:
   dL/dW = sym(Gamma^T P); dL/dS = -W (dL/dW) W for S = V^{1/2}; dL/dV = Y solving
   S Y + Y S = dL/dS, which for 2x2 matrices (by Cayley-Hamilton, t = tr S, d = det S) is
   Y = (t/(2d) + 1/(2t)) C - (S C + C S)/(2d) + S C S/(2 d t). */
CV_INLINE cv_sym2 cv_whiten_vjp(cv_mat2 p, int has_gamma, cv_sym2 g, cv_sym2 v, cv_sym2 w,
                                double eps) {
    double root = cv_root_det(v, eps), t = sqrt(v.rr + v.ii + 2 * root);
    cv_sym2 s = {(v.rr + root) / t, v.ri / t, (v.ii + root) / t}; /* (V + sqrt(det V) I) / t */
    cv_sym2 gw;
    if (!has_gamma) {
        double h = 1.0 / sqrt(2.0);
        gw = (cv_sym2){h * p.rr, h * (p.ri + p.ir) / 2, h * p.ii};
    } else { /* Gamma^T P = Gamma P, symmetrised */
        cv_mat2 a = {g.rr * p.rr + g.ri * p.ir, g.rr * p.ri + g.ri * p.ii,
                     g.ri * p.rr + g.ii * p.ir, g.ri * p.ri + g.ii * p.ii};
        gw = (cv_sym2){a.rr, (a.ri + a.ir) / 2, a.ii};
    }
    cv_sym2 c = cv_sandwich(w, (cv_sym2){-gw.rr, -gw.ri, -gw.ii}); /* dL/dS = -W (dL/dW) W */
    double tr = s.rr + s.ii, det = root; /* det S = sqrt(det V), without S's cancellation */
    cv_sym2 sc_cs = {2 * (s.rr * c.rr + s.ri * c.ri),
                     s.rr * c.ri + s.ri * c.ii + c.rr * s.ri + c.ri * s.ii,
                     2 * (s.ri * c.ri + s.ii * c.ii)};
    cv_sym2 scs = cv_sandwich(s, c);
    double k1 = tr / (2 * det) + 1 / (2 * tr), k2 = 1 / (2 * det), k3 = 1 / (2 * det * tr);
    cv_sym2 y = {k1 * c.rr - k2 * sc_cs.rr + k3 * scs.rr, k1 * c.ri - k2 * sc_cs.ri + k3 * scs.ri,
                 k1 * c.ii - k2 * sc_cs.ii + k3 * scs.ii};
    return (cv_sym2){y.rr, 2 * y.ri, y.ii};
}

/* dL/dGamma = P W, onto Gamma's symmetric parameters. */
CV_INLINE cv_sym2 cv_gamma_grad(cv_mat2 p, cv_sym2 w) {
    cv_mat2 pw = {p.rr * w.rr + p.ri * w.ri, p.rr * w.ri + p.ri * w.ii, p.ir * w.rr + p.ii * w.ri,
                  p.ir * w.ri + p.ii * w.ii};
    return (cv_sym2){pw.rr, pw.ri + pw.ir, pw.ii};
}

/* Per channel c of `channels` (C), n values each. The arrays are planar (x[k C + c]) but for
   the interleaved complex mean, shift, beta and dbeta and for gamma and dgamma, (C, 3) row by
   row; gamma NULL: Gamma = I/sqrt(2) (each loop is written out for both cases, so that it
   vectorises over the channels).
   bn_moments: from bn_sums' float64 sums acc of d = z - shift, the mean and biased covariance
   cov (V_rr, V_ri, V_ii; the variances at least 0), cov in double for either T: rounded to
   float, a near-singular covariance's small eigenvalue (V_rr V_ii - V_ri^2 over the large one)
   would lose all its digits, and the whitening along it a percent or more.
   bn_whiten_coef: bn_affine's coef for Gamma W (z - mean) + beta (centre: the mean), W the
   inverse square root of cov + eps I.
   bn_whiten_grads: from bn_sums' sums acc of G and G c^T, bn_affine's coef for the input
   gradient M^T G + K c + o with c = z - mean (v: z, centre: the mean), through the statistics
   where `batch` (see _FusedWhiten; else M^T G, no centre), and the gradients dgamma (where
   gamma) and dbeta. */
#define CV_FOR_CHANNELS(gamma, ...)                                                                \
    if (gamma) {                                                                                   \
        CV_SIMD for (int64_t c = 0; c < C; ++c) {                                                  \
            const int has_gamma = 1;                                                               \
            cv_sym2 g = {gamma[3 * c], gamma[3 * c + 1], gamma[3 * c + 2]};                        \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    } else {                                                                                       \
        CV_SIMD for (int64_t c = 0; c < C; ++c) {                                                  \
            const int has_gamma = 0;                                                               \
            cv_sym2 g = {0, 0, 0};                                                                 \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
#define BN_COEF_FNS(SUF, T)                                                                        \
    CV_KERNEL void cv_bn_moments_##SUF(int64_t C, int64_t n, const double *acc, const T *shift,    \
                                       T *mean, double *cov) {                                     \
        CV_SIMD for (int64_t c = 0; c < C; ++c) {                                                  \
            double mx = acc[c] / n, my = acc[C + c] / n;                                           \
            double vrr = acc[2 * C + c] / n - mx * mx, vii = acc[4 * C + c] / n - my * my;         \
            mean[2 * c] = shift[2 * c] + (T)mx, mean[2 * c + 1] = shift[2 * c + 1] + (T)my;        \
            cov[c] = vrr < 0 ? 0 : vrr, cov[2 * C + c] = vii < 0 ? 0 : vii;                        \
            cov[C + c] = acc[3 * C + c] / n - mx * my;                                             \
        }                                                                                          \
    }                                                                                              \
    CV_INLINE cv_sym2 cv_bn_cov_##SUF(const double *cov, int64_t C, int64_t c, double eps) {       \
        return (cv_sym2){cov[c] + eps, cov[C + c], cov[2 * C + c] + eps};                          \
    }                                                                                              \
    CV_KERNEL void cv_bn_whiten_coef_##SUF(int64_t C, const T *mean, const double *cov,            \
                                           const T *gamma, const T *beta, double eps, T *coef) {   \
        CV_FOR_CHANNELS(gamma, {                                                                   \
            cv_sym2 w = cv_inverse_sqrt_2x2(cv_bn_cov_##SUF(cov, C, c, eps), eps);                 \
            cv_mat2 m = cv_mix(has_gamma, g, w);                                                   \
            double mx = mean[2 * c], my = mean[2 * c + 1];                                         \
            coef[c] = (T)m.rr, coef[C + c] = (T)m.ri, coef[2 * C + c] = (T)m.ir;                   \
            coef[3 * C + c] = (T)m.ii;                                                             \
            for (int q = 4; q < 8; ++q)                                                            \
                coef[q * C + c] = 0;                                                               \
            coef[8 * C + c] = beta[2 * c], coef[9 * C + c] = beta[2 * c + 1];                      \
            coef[10 * C + c] = (T)mx, coef[11 * C + c] = (T)my;                                    \
        })                                                                                         \
    }                                                                                              \
    CV_KERNEL void cv_bn_whiten_grads_##SUF(int64_t C, int64_t n, const double *acc,               \
                                            const T *mean, const double *cov, const T *gamma,      \
                                            double eps, int64_t batch, T *coef, T *dgamma,         \
                                            T *dbeta) {                                            \
        /* batch as a 0/1 factor, not a select: gcc 12 vectorises no loop with selects on it */    \
        const double b = batch ? 1 : 0;                                                            \
        CV_FOR_CHANNELS(gamma, {                                                                   \
            double s0 = acc[c], s1 = acc[C + c];                                                   \
            cv_mat2 p = {acc[2 * C + c], acc[3 * C + c], acc[4 * C + c], acc[5 * C + c]};          \
            cv_sym2 v = cv_bn_cov_##SUF(cov, C, c, eps), w = cv_inverse_sqrt_2x2(v, eps);          \
            cv_mat2 m = cv_mix(has_gamma, g, w);                                                   \
            cv_sym2 dv = cv_whiten_vjp(p, has_gamma, g, v, w, eps);                                \
            if (has_gamma) {                                                                       \
                cv_sym2 dg = cv_gamma_grad(p, w);                                                  \
                dgamma[3 * c] = (T)dg.rr, dgamma[3 * c + 1] = (T)dg.ri;                            \
                dgamma[3 * c + 2] = (T)dg.ii;                                                      \
            }                                                                                      \
            dbeta[2 * c] = (T)s0, dbeta[2 * c + 1] = (T)s1;                                        \
            double mx = mean[2 * c], my = mean[2 * c + 1];                                         \
            double k00 = b * (2 * dv.rr / n), k01 = b * (dv.ri / n), k11 = b * (2 * dv.ii / n);    \
            coef[c] = (T)m.rr, coef[C + c] = (T)m.ir, coef[2 * C + c] = (T)m.ri; /* M^T */         \
            coef[3 * C + c] = (T)m.ii, coef[4 * C + c] = (T)k00, coef[5 * C + c] = (T)k01;         \
            coef[6 * C + c] = (T)k01, coef[7 * C + c] = (T)k11;                                    \
            double ox = -(m.rr * s0 + m.ir * s1) / n, oy = -(m.ri * s0 + m.ii * s1) / n;           \
            coef[8 * C + c] = (T)(b * ox), coef[9 * C + c] = (T)(b * oy);                          \
            coef[10 * C + c] = (T)(b * mx), coef[11 * C + c] = (T)(b * my);                        \
        })                                                                                         \
    }
BN_COEF_FNS(f32, float)
BN_COEF_FNS(f64, double)

/* The power norm's per-run maths (cvlayers/_norm.py: _run_moments, _FusedPowerNorm; layer norm
   and group norm take their statistics from it), in double, G runs of `inner` values each.
   run_moments: from bn_sums' sums acc of d = z - shift, each run's mean (interleaved complex)
   and scale s = 1/sqrt(E|z - mean|^2 + eps); not `centred` (RMS norm, sums about shift = 0),
   mean = 0 and s = 1/sqrt(E|z|^2 + eps).
   power_coef: bn_affine's coef per run, centred on the mean. Without acc, the forward's
   s (z - mean): A = s I, K = 0, o = 0; with bn_sums' sums acc of G and G d^T about the mean,
   the input gradient s (G - mean G) - s^3 mean(G . d) d: A = s I, K = k I with
   k = -s^3 (sum gx dx + gy dy)/inner, o = -s (sum G)/inner. */
#define POWER_FNS(SUF, T)                                                                          \
    CV_KERNEL void cv_run_moments_##SUF(int64_t G, int64_t inner, const double *acc,               \
                                        const T *shift, double eps, int64_t centred, T *mean,      \
                                        T *scale) {                                                \
        CV_SIMD for (int64_t c = 0; c < G; ++c) {                                                  \
            double mx = centred ? acc[c] / inner : 0, my = centred ? acc[G + c] / inner : 0;       \
            double vrr = acc[2 * G + c] / inner - mx * mx, vii = acc[4 * G + c] / inner - my * my; \
            mean[2 * c] = shift[2 * c] + (T)mx, mean[2 * c + 1] = shift[2 * c + 1] + (T)my;        \
            scale[c] = (T)(1 / sqrt((vrr < 0 ? 0 : vrr) + (vii < 0 ? 0 : vii) + eps));             \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL void cv_power_coef_##SUF(int64_t G, int64_t inner, const double *acc,                \
                                       const T *mean, const T *scale, T *coef) {                   \
        CV_SIMD for (int64_t c = 0; c < G; ++c) {                                                  \
            double s = scale[c], mx = mean[2 * c], my = mean[2 * c + 1], k = 0;                    \
            double ox = 0, oy = 0;                                                                 \
            if (acc) {                                                                             \
                k = -(s * s * s) * ((acc[2 * G + c] + acc[5 * G + c]) / inner);                    \
                ox = -s * (acc[c] / inner), oy = -s * (acc[G + c] / inner);                        \
            }                                                                                      \
            coef[c] = (T)s, coef[G + c] = 0, coef[2 * G + c] = 0, coef[3 * G + c] = (T)s;          \
            coef[4 * G + c] = (T)k, coef[5 * G + c] = 0, coef[6 * G + c] = 0;                      \
            coef[7 * G + c] = (T)k, coef[8 * G + c] = (T)ox, coef[9 * G + c] = (T)oy;              \
            coef[10 * G + c] = (T)mx, coef[11 * G + c] = (T)my;                                    \
        }                                                                                          \
    }
POWER_FNS(f32, float)
POWER_FNS(f64, double)

/* Group norm's per-plane coefficients for bn_affine (cvlayers/_norm.py: _gn_forward,
   _gn_backward), in double: N samples of C channels in G groups, a plane of `inner` values per
   (sample, channel); mean (interleaved complex) and scale s per (sample, group); gamma and
   beta (interleaved complex) per channel.
   gn_coef: the forward's gamma s (z - mean) + beta: A = gamma s (as a 2x2), K = 0,
   o = beta, centre m = mean.
   gn_grads: from bn_sums' sums acc per plane of G and G d^T about the mean, dgamma =
   sum s conj(d) G and dbeta = sum G over the samples (NULL: not wanted) and, where coef,
   bn_affine's coef for the input gradient s (G' - mean G') - s^3 mean(Re(conj(d) G')) d with
   G' = conj(gamma) G and means over each group: A = s conj(gamma), K = k I,
   o = -s mean G', centre m = mean. */
#define GN_COEF_FNS(SUF, T)                                                                        \
    CV_KERNEL void cv_gn_coef_##SUF(int64_t N, int64_t C, int64_t G, const T *mean,                \
                                    const T *scale, const T *gamma, const T *beta, T *coef) {      \
        const int64_t P = N * C, per = C / G;                                                      \
        for (int64_t q = 0; q < N * G; ++q) { /* (sample, group) q: its planes */                  \
            double s = scale[q], mx = mean[2 * q], my = mean[2 * q + 1];                           \
            int64_t first = (q / G) * C + (q % G) * per, c0 = (q % G) * per;                       \
            CV_SIMD for (int64_t i = 0; i < per; ++i) {                                            \
                int64_t p = first + i, c = c0 + i;                                                 \
                double ar = s * gamma[2 * c], ai = s * gamma[2 * c + 1];                           \
                double bx = beta[2 * c], by = beta[2 * c + 1];                                     \
                coef[p] = (T)ar, coef[P + p] = (T)-ai, coef[2 * P + p] = (T)ai;                    \
                coef[3 * P + p] = (T)ar;                                                           \
                for (int k = 4; k < 8; ++k)                                                        \
                    coef[k * P + p] = 0;                                                           \
                coef[8 * P + p] = (T)bx, coef[9 * P + p] = (T)by;                                  \
                coef[10 * P + p] = (T)mx, coef[11 * P + p] = (T)my;                                \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL void cv_gn_grads_##SUF(int64_t N, int64_t C, int64_t G, int64_t inner,               \
                                     const double *acc, const T *mean, const T *scale,             \
                                     const T *gamma, T *coef, T *dgamma, T *dbeta) {               \
        const int64_t P = N * C, per = C / G;                                                      \
        const double size = (double)inner * per;                                                   \
        for (int64_t c = 0; c < C; ++c) {                                                          \
            double wx = 0, wy = 0, bx = 0, by = 0;                                                 \
            for (int64_t n = 0, j = c / per; n < N; ++n) {                                         \
                int64_t p = n * C + c;                                                             \
                double s = scale[n * G + j];                                                       \
                wx += s * (acc[2 * P + p] + acc[5 * P + p]);                                       \
                wy += s * (acc[4 * P + p] - acc[3 * P + p]);                                       \
                bx += acc[p], by += acc[P + p];                                                    \
            }                                                                                      \
            if (dgamma)                                                                            \
                dgamma[2 * c] = (T)wx, dgamma[2 * c + 1] = (T)wy;                                  \
            if (dbeta)                                                                             \
                dbeta[2 * c] = (T)bx, dbeta[2 * c + 1] = (T)by;                                    \
        }                                                                                          \
        for (int64_t q = 0; coef && q < N * G; ++q) { /* (sample, group) q: its planes */          \
            double s = scale[q], mx = mean[2 * q], my = mean[2 * q + 1];                           \
            double hx = 0, hy = 0, h = 0; /* sums of G' and of Re(conj(d) G') */                   \
            int64_t first = (q / G) * C + (q % G) * per, c0 = (q % G) * per;                       \
            for (int64_t p = first, c = c0; p < first + per; ++p, ++c) {                           \
                double gr = gamma[2 * c], gi = -gamma[2 * c + 1];                                  \
                double sx = acc[p], sy = acc[P + p];                                               \
                double dx = acc[2 * P + p] + acc[5 * P + p], dy = acc[4 * P + p] - acc[3 * P + p]; \
                hx += gr * sx - gi * sy, hy += gr * sy + gi * sx, h += gr * dx - gi * dy;          \
            }                                                                                      \
            double k = -(s * s * s) * (h / size);                                                  \
            double ox = -s * (hx / size), oy = -s * (hy / size);                                   \
            CV_SIMD for (int64_t i = 0; i < per; ++i) {                                            \
                int64_t p = first + i, c = c0 + i;                                                 \
                double ar = s * gamma[2 * c], ai = -s * gamma[2 * c + 1];                          \
                coef[p] = (T)ar, coef[P + p] = (T)-ai, coef[2 * P + p] = (T)ai;                    \
                coef[3 * P + p] = (T)ar, coef[4 * P + p] = (T)k, coef[5 * P + p] = 0;              \
                coef[6 * P + p] = 0, coef[7 * P + p] = (T)k;                                       \
                coef[8 * P + p] = (T)ox, coef[9 * P + p] = (T)oy;                                  \
                coef[10 * P + p] = (T)mx, coef[11 * P + p] = (T)my;                                \
            }                                                                                      \
        }                                                                                          \
    }
GN_COEF_FNS(f32, float)
GN_COEF_FNS(f64, double)

/* A complex scale and shift per channel (cvlayers/_norm.py: _complex_affine and its
   backward; GroupNorm's gamma and beta on small planes), C channels, gamma and beta
   interleaved complex (NULL: 1 and 0).
   complex_coef: bn_affine's coef for gamma x + beta (conj(gamma) x + beta where `conjugate`):
   A = gamma as a 2x2, K = 0, o = beta, no centre.
   complex_grads: from bn_sums' sums acc of G and G x^T (about 0), dgamma = sum conj(x) G and
   dbeta = sum G (interleaved complex; NULL: not wanted). */
#define COMPLEX_AFFINE_FNS(SUF, T)                                                                 \
    void cv_complex_coef_##SUF(int64_t C, const T *gamma, const T *beta, int64_t conjugate,        \
                               T *coef) {                                                          \
        for (int64_t c = 0; c < C; ++c) {                                                          \
            T ar = gamma ? gamma[2 * c] : 1, ai = gamma ? gamma[2 * c + 1] : 0;                    \
            ai = conjugate ? -ai : ai;                                                             \
            coef[c] = ar, coef[C + c] = -ai, coef[2 * C + c] = ai, coef[3 * C + c] = ar;           \
            for (int k = 4; k < 8; ++k)                                                            \
                coef[k * C + c] = 0;                                                               \
            coef[8 * C + c] = beta ? beta[2 * c] : 0, coef[9 * C + c] = beta ? beta[2 * c + 1] : 0;\
            coef[10 * C + c] = 0, coef[11 * C + c] = 0;                                            \
        }                                                                                          \
    }                                                                                              \
    void cv_complex_grads_##SUF(int64_t C, const double *acc, T *dgamma, T *dbeta) {               \
        for (int64_t c = 0; dgamma && c < C; ++c) {                                                \
            dgamma[2 * c] = (T)(acc[2 * C + c] + acc[5 * C + c]);                                  \
            dgamma[2 * c + 1] = (T)(acc[4 * C + c] - acc[3 * C + c]);                              \
        }                                                                                          \
        for (int64_t c = 0; dbeta && c < C; ++c)                                                   \
            dbeta[2 * c] = (T)acc[c], dbeta[2 * c + 1] = (T)acc[C + c];                            \
    }
COMPLEX_AFFINE_FNS(f32, float)
COMPLEX_AFFINE_FNS(f64, double)

/* Layer norm (cvlayers/_norm.py) on (rows, cols) data, row r's element c at r cols + c, with
   planar per-row coefficients rowc[q rows + r] and per-column ones colc[q cols + c].
   ln_affine, over the elements: out = P (s (u - w)) + Q + k v + e, with P, Q (complex,
   q = 0..3: Re P, Im P, Re Q, Im Q) per column and s, w (complex), k, e (complex) per row
   (q = 0..5: s, Re w, Im w, k, Re e, Im e); v NULL: no k v. The forward is
   gamma s (z - mean) + beta (z - mean first: a constant row gives beta exactly, as torch's
   layer norm; s z - s mean left s times an ulp of z), the input gradient
   conj(gamma) (s G) + k z + e. ln_sums, over whole rows (its ranges count
   rows), with d = z - mean[r], s = scale[r] and H = P G (P = conj(gamma), the first two rows
   of colc): per row, into the planar float64 rowsum[q rows + r], the sums of Re H, Im H and
   dx Hx + dy Hy (summed per CV_BLOCK columns in the input type); per column, into acc, those
   of gx, gy, s (dx gx + dy gy) and s (dx gy - dy gx) (Re and Im of s conj(d) G), summed in
   the input type per CV_BN_ROWS rows in work, as bn_sums does in rows. */
#define LN_KERNELS(SUF, T)                                                                         \
    CV_DEFINE(cv_ln_affine_##SUF,                                                                  \
              (const T *u, const T *v, T *out, const T *rowc, const T *colc, int64_t rows,         \
               int64_t cols),                                                                      \
              (u, v, out, rowc, colc, rows, cols)) {                                               \
        int64_t r = start / cols, c = start % cols;                                                \
        for (int64_t j = start; j < stop; ++r, c = 0) {                                            \
            int64_t m = cols - c < stop - j ? cols - c : stop - j;                                 \
            const T s = rowc[r], wx = rowc[rows + r], wy = rowc[2 * rows + r];                     \
            const T k = rowc[3 * rows + r], ex = rowc[4 * rows + r], ey = rowc[5 * rows + r];      \
            const T *pr = colc + c, *pi = pr + cols, *qr = pi + cols, *qi = qr + cols;             \
            const T *uk = u + 2 * j, *vk = v ? v + 2 * j : NULL;                                   \
            T *ok = out + 2 * j;                                                                   \
            if (vk) {                                                                              \
                CV_SIMD for (int64_t i = 0; i < m; ++i) {                                          \
                    T ax = s * (uk[2 * i] - wx), ay = s * (uk[2 * i + 1] - wy);                    \
                    ok[2 * i] = pr[i] * ax - pi[i] * ay + qr[i] + k * vk[2 * i] + ex;              \
                    ok[2 * i + 1] = pr[i] * ay + pi[i] * ax + qi[i] + k * vk[2 * i + 1] + ey;      \
                }                                                                                  \
            } else {                                                                               \
                CV_SIMD for (int64_t i = 0; i < m; ++i) {                                          \
                    T ax = s * (uk[2 * i] - wx), ay = s * (uk[2 * i + 1] - wy);                    \
                    ok[2 * i] = pr[i] * ax - pi[i] * ay + qr[i] + ex;                              \
                    ok[2 * i + 1] = pr[i] * ay + pi[i] * ax + qi[i] + ey;                          \
                }                                                                                  \
            }                                                                                      \
            j += m;                                                                                \
        }                                                                                          \
    }                                                                                              \
    CV_DEFINE_ALIGNED(cv_ln_sums_##SUF, 1,                                                         \
              (const T *z, const T *g, const T *mean, const T *scale, const T *colc, int64_t cols, \
               int64_t rows, double *rowsum, T *work, double *acc),                                \
              (z, g, mean, scale, colc, cols, rows, rowsum, work + 4 * cols * cv_range,            \
               acc + 4 * cols * cv_range)) {                                                       \
        T *w0 = work, *w1 = work + cols, *w2 = w1 + cols, *w3 = w2 + cols;                         \
        const T *pr = colc, *pi = colc + cols;                                                     \
        int64_t pending = 0; /* rows summed into work since it was last added to acc */            \
        for (int64_t r = start; r < stop; ++r) {                                                   \
            const T *zk = z + 2 * r * cols, *gk = g + 2 * r * cols;                                \
            const T mx = mean[2 * r], my = mean[2 * r + 1], s = scale[r];                          \
            double r0 = 0, r1 = 0, r2 = 0;                                                         \
            for (int64_t b = 0; b < cols; b += CV_BLOCK) {                                         \
                int64_t e = b + CV_BLOCK < cols ? b + CV_BLOCK : cols;                             \
                T s0 = 0, s1 = 0, s2 = 0;                                                          \
                _Pragma("omp simd reduction(+ : s0, s1, s2)") for (int64_t i = b; i < e; ++i) {    \
                    T dx = zk[2 * i] - mx, dy = zk[2 * i + 1] - my;                                \
                    T gx = gk[2 * i], gy = gk[2 * i + 1];                                          \
                    T hx = pr[i] * gx - pi[i] * gy, hy = pr[i] * gy + pi[i] * gx;                  \
                    s0 += hx, s1 += hy, s2 += dx * hx + dy * hy;                                   \
                    w0[i] += gx, w1[i] += gy;                                                      \
                    w2[i] += s * (dx * gx + dy * gy), w3[i] += s * (dx * gy - dy * gx);            \
                }                                                                                  \
                r0 += s0, r1 += s1, r2 += s2;                                                      \
            }                                                                                      \
            rowsum[r] = r0, rowsum[rows + r] = r1, rowsum[2 * rows + r] = r2;                      \
            if (++pending == CV_BN_ROWS) {                                                         \
                cv_bn_flush_##SUF(work, acc, 4 * cols);                                            \
                pending = 0;                                                                       \
            }                                                                                      \
        }                                                                                          \
        if (pending)                                                                               \
            cv_bn_flush_##SUF(work, acc, 4 * cols);                                                \
    }

/* Layer norm's per-row and per-feature coefficients for ln_affine (cvlayers/_norm.py:
   _ln_forward, _ln_backward), in double: one call each where ~40 small torch ops ran. R rows
   of D features; mean (interleaved complex) and scale per row; gamma and beta per feature
   (interleaved complex; NULL: 1 and 0).
   ln_feature_coef: colc = Re gamma, Im gamma (-Im gamma where `conjugate`), Re beta, Im beta.
   ln_row_coef: rowc for the forward, s and w = mean (k = 0, e = 0); with rowsum (ln_sums'
   per-row sums of Re H, Im H and Re(conj(d) H)), for the input gradient: s, w = 0,
   k = -s^3 Re(conj(d) H)/D, e = -s (sum H)/D - k mean; not `centred` (RMS norm: mean = 0,
   which the input gradient does not go through), e = 0.
   ln_feature_grads: from ln_sums' per-feature sums acc, dbeta = sum G and dgamma =
   sum s conj(d) G (interleaved complex; NULL: not wanted). */
#define LN_COEF_FNS(SUF, T)                                                                        \
    void cv_ln_feature_coef_##SUF(int64_t D, const T *gamma, const T *beta, int64_t conjugate,     \
                                  T *colc) {                                                       \
        for (int64_t c = 0; c < D; ++c) {                                                          \
            T gi = gamma ? gamma[2 * c + 1] : 0;                                                   \
            colc[c] = gamma ? gamma[2 * c] : 1, colc[D + c] = conjugate ? -gi : gi;                \
            colc[2 * D + c] = beta ? beta[2 * c] : 0, colc[3 * D + c] = beta ? beta[2 * c + 1] : 0;\
        }                                                                                          \
    }                                                                                              \
    void cv_ln_row_coef_##SUF(int64_t R, int64_t D, const double *rowsum, const T *mean,           \
                              const T *scale, int64_t centred, T *rowc) {                          \
        for (int64_t r = 0; r < R; ++r) {                                                          \
            double s = scale[r], mx = mean[2 * r], my = mean[2 * r + 1];                           \
            double k = 0, wx = mx, wy = my, ex = 0, ey = 0;                                        \
            if (rowsum) {                                                                          \
                k = -(s * s * s) * rowsum[2 * R + r] / D;                                          \
                ex = -s * (rowsum[r] / D) - k * mx, ey = -s * (rowsum[R + r] / D) - k * my;        \
                ex = centred ? ex : 0, ey = centred ? ey : 0;                                      \
                wx = 0, wy = 0;                                                                    \
            }                                                                                      \
            rowc[r] = (T)s, rowc[R + r] = (T)wx, rowc[2 * R + r] = (T)wy;                          \
            rowc[3 * R + r] = (T)k, rowc[4 * R + r] = (T)ex, rowc[5 * R + r] = (T)ey;              \
        }                                                                                          \
    }                                                                                              \
    void cv_ln_feature_grads_##SUF(int64_t D, const double *acc, T *dgamma, T *dbeta) {            \
        for (int64_t c = 0; dbeta && c < D; ++c)                                                   \
            dbeta[2 * c] = (T)acc[c], dbeta[2 * c + 1] = (T)acc[D + c];                            \
        for (int64_t c = 0; dgamma && c < D; ++c)                                                  \
            dgamma[2 * c] = (T)acc[2 * D + c], dgamma[2 * c + 1] = (T)acc[3 * D + c];              \
    }
LN_COEF_FNS(f32, float)
LN_COEF_FNS(f64, double)

#define ALL_KERNELS(SUF, T)                                                                        \
    MODSCALE_KERNELS(modrelu, SUF, T, RELU_G, cv_modrelu_block)                                    \
    MODSCALE_KERNELS(modtanh, SUF, T, TANH_G, cv_modtanh_block)                                    \
    MODSCALE_KERNELS(modsigmoid, SUF, T, SIGMOID_G, cv_modsigmoid_block)                           \
    CRELU_KERNELS(SUF, T)                                                                          \
    CTANH_KERNELS(SUF, T)                                                                          \
    CSIGMOID_KERNELS(SUF, T)                                                                       \
    CELU_KERNELS(celu, SUF, T, t)                                                                  \
    CELU_KERNELS(ccelu, SUF, T, t * c)                                                             \
    CARDIOID_KERNELS(SUF, T)                                                                       \
    ZRELU_KERNELS(SUF, T)                                                                          \
    CPRELU_KERNELS(SUF, T)                                                                         \
    ABS_KERNELS(SUF, T)                                                                            \
    ADAM_MODULUS_KERNEL(SUF, T)                                                                    \
    ADAM_CONJ_KERNEL(SUF, T)                                                                       \
    BN_KERNELS(SUF, T)                                                                             \
    LN_KERNELS(SUF, T)

ALL_KERNELS(f32, float)
ALL_KERNELS(f64, double)

/* GELU t Phi(t) of Re and Im, over the 2n reals, in float only (complex128 runs torch's gelu),
   without an exponential: for |t| <= 6.5, Phi(t) = 1/2 + t P(u)/Q(u), u = t^2/6.5^2, with a
   [6/5] rational fitted for least absolute error (2e-9 in double); beyond, 0 or 1 (Phi(-6.5)
   = 4e-11). The backward's derivative Phi(t) + t Phi'(t) is a rational of its own, 1/2 +
   t A(u)/B(u) with a [7/6] fit (1.6e-8 in double; t Phi'(t) < 2e-9 beyond 6.5), which takes
   13 FMAs and a division where the derivative of the forward's rational took 25 and one.
   Against double GELU, measured over [-8, 8]: output within 1.7 eps max(|t|, 1), derivative
   within 2.0 eps (torch's float gelu: 1.4 and 2.4). As torch's, the tail t < 0 keeps
   absolute, not relative, accuracy (|GELU(t)| < 1e-6 below t = -5). torch's erf takes an
   exponential (one forward, two backward): CGELU ran 1.5x faster with the rational Phi, and
   the derivative's own rational took another 16-20 % off the forward + backward (Zen 4,
   complex64, 2M elements, 2 threads). NaN propagates; beyond 6.5, whatever w = t^2 gave (inf
   at a huge t) is discarded. (Both fits: linearised least squares on the error in Phi or in
   the derivative, reweighted towards minimax; coefficients rounded to float.) */
/* near, for |t| <= 6.5 (and NaN); beyond, 1 or 0 (Phi's and the derivative's limits). Two
   ordered compares: 10 % faster in the forward than a select on |t| and then on t's sign. */
CV_INLINE float cv_gelu_tail_f32(float t, float near) {
    float upper = t > 6.5f ? 1.0f : near;
    return t < -6.5f ? 0.0f : upper;
}
/* Both rationals in w = t^2, 1/2 + t (c + w A(w)) / (1 + w B(w)) with A, B by Horner from
   their highest coefficient: the coefficients of the fits in u = w / 6.5^2, each divided by
   the matching power of 6.5^2 (one multiplication fewer per real). */
CV_INLINE float cv_gelu_rational_f32(float t, float c, const float *A, int na, const float *B,
                                     int nb) {
    float w = t * t, a = A[0], b = B[0];
    for (int j = 1; j < na; ++j)
        a = A[j] + w * a;
    for (int j = 1; j < nb; ++j)
        b = B[j] + w * b;
    return cv_gelu_tail_f32(t, 0.5f + t * ((c + w * a) / (1 + w * b)));
}
static const float cv_gelu_phi_a[] = {-6.65350899e-11f, 4.87695395e-08f, 8.25241023e-06f,
                                      1.76121670e-04f,  4.82775597e-03f, 3.34361307e-02f};
static const float cv_gelu_phi_b[] = {1.89426271e-06f, 8.29663695e-05f, 1.96336838e-03f,
                                      2.88483351e-02f, 2.50478268e-01f};
static const float cv_gelu_d_a[] = {-3.59099382e-11f, 1.95683683e-08f, 2.00289332e-06f,
                                    3.19063183e-05f,  6.06551650e-04f, 1.28723746e-02f,
                                    -3.90075089e-04f};
static const float cv_gelu_d_b[] = {6.12005238e-07f, 1.49592752e-05f, 3.39209248e-04f,
                                    5.05800964e-03f, 5.20849377e-02f, 3.32842976e-01f};
/* Phi(t) (the [6/5] fit) and the derivative Phi(t) + t Phi'(t) (the [7/6] fit). */
CV_INLINE float cv_gelu_phi_f32(float t) {
    return cv_gelu_rational_f32(t, 3.9894226e-01f, cv_gelu_phi_a, 6, cv_gelu_phi_b, 5);
}
CV_INLINE float cv_gelu_d_f32(float t) {
    return cv_gelu_rational_f32(t, 7.9788446e-01f, cv_gelu_d_a, 7, cv_gelu_d_b, 6);
}
CV_DEFINE(cv_cgelu_fwd_f32, (const float *z, float *out), (z, out)) {
    CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) {
        out[i] = z[i] * cv_gelu_phi_f32(z[i]);
    }
}
CV_DEFINE(cv_cgelu_bwd_f32, (const float *z, const float *grad, float *gz), (z, grad, gz)) {
    CV_SIMD for (int64_t i = 2 * start; i < 2 * stop; ++i) {
        gz[i] = grad[i] * cv_gelu_d_f32(z[i]);
    }
}

/* An importable (empty) module, so that setuptools builds and installs this file as
   cvlayers._ckernels; the kernels are called through ctypes. */
static struct PyModuleDef cv_module = {PyModuleDef_HEAD_INIT, .m_name = "_ckernels", .m_doc = NULL,
                                       .m_size = -1};

PyMODINIT_FUNC PyInit__ckernels(void) { return PyModule_Create(&cv_module); }
