/* Fused CPU kernels for the complex activations (see cvlayers/_native.py).

   Each kernel reads interleaved complex data (re, im, re, im, ...) and processes the complex
   elements [start, stop) of arrays that start at the given pointers, so that Python can run
   disjoint ranges in parallel threads. The formulas are those of the eager fallbacks in
   _modulus.py and _activation_functional.py (tests hold the two paths together); every kernel
   is 0, with a finite gradient, at z = 0. One pass over memory replaces 10-20 eager passes.

   Built with -O3 -fno-math-errno -fno-trapping-math (so that gcc vectorises sqrt, division
   and selects) and, on x86-64 Linux, an AVX2/FMA clone chosen at load time. Loaded through
   ctypes, which releases the GIL during each call. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <tgmath.h> /* sqrt, exp, tanh of the argument's type */

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define CV_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CV_KERNEL
#endif

/* Honoured with -fopenmp-simd (no OpenMP runtime is linked); ignored elsewhere. */
#define CV_SIMD _Pragma("omp simd")
#define CV_SIMD_SUM1 _Pragma("omp simd reduction(+ : acc)")
#define CV_SIMD_SUM2 _Pragma("omp simd reduction(+ : acc0, acc1)")
/* Sums run in blocks of the input type, accumulated across blocks in double. */
#define CV_BLOCK 256

/* g(r) and g'(r) of the modulus maps f(z) = g(|z|) z/|z|. */
#define RELU_G(T, r, b, g, dg)                                                                     \
    T sh_ = (r) + (b);                                                                             \
    T g = sh_ > 0 ? sh_ : (T)0;                                                                    \
    T dg = sh_ > 0 ? (T)1 : (T)0

/* Forward and backward of g(|z|) z/|z| for one kind, with a real parameter b constant over
   runs of `inner` elements and cycling through `channels` values (a scalar: channels = 1).
   The backward writes PyTorch's vector-Jacobian product
     grad_z = (g' + g/r)/2 G + (g' - g/r)/2 u^2 conj(G),  u = z/r,
   and, when gbias is not NULL, adds sum(g' Re(conj(G) u)) per channel into gbias.
   Only the relu kind is instantiated: scalar tanh/exp calls are slower than the eager maths. */
#define MODSCALE_KERNELS(NAME, SUF, T, GFN)                                                        \
    CV_KERNEL void cv_##NAME##_fwd_##SUF(int64_t start, int64_t stop, const T *z, T *out,          \
                                         const T *bias, int64_t channels, int64_t inner) {         \
        for (int64_t j = start; j < stop;) {                                                       \
            int64_t run = j / inner, end = (run + 1) * inner;                                      \
            T b = bias ? bias[run % channels] : (T)0; /* read by the relu kind only */             \
            (void)b;                                                                               \
            if (end > stop)                                                                        \
                end = stop;                                                                        \
            CV_SIMD for (int64_t i = j; i < end; ++i) {                                            \
                T x = z[2 * i], y = z[2 * i + 1];                                                  \
                T r = sqrt(x * x + y * y);                                                         \
                GFN(T, r, b, g, dg);                                                               \
                (void)dg;                                                                          \
                T s = r > 0 ? g / r : (T)0;                                                        \
                out[2 * i] = x * s;                                                                \
                out[2 * i + 1] = y * s;                                                            \
            }                                                                                      \
            j = end;                                                                               \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL void cv_##NAME##_bwd_##SUF(int64_t start, int64_t stop, const T *z, const T *grad,   \
                                         T *gz, const T *bias, int64_t channels, int64_t inner,    \
                                         double *gbias) {                                          \
        for (int64_t j = start; j < stop;) {                                                       \
            int64_t run = j / inner, end = (run + 1) * inner;                                      \
            T b = bias ? bias[run % channels] : (T)0; /* read by the relu kind only */             \
            (void)b;                                                                               \
            double total = 0;                                                                      \
            if (end > stop)                                                                        \
                end = stop;                                                                        \
            for (int64_t k = j; k < end; k += CV_BLOCK) {                                          \
                int64_t k_end = k + CV_BLOCK < end ? k + CV_BLOCK : end;                           \
                T acc = 0;                                                                         \
                CV_SIMD_SUM1 for (int64_t i = k; i < k_end; ++i) {                                 \
                    T x = z[2 * i], y = z[2 * i + 1], gx = grad[2 * i], gy = grad[2 * i + 1];      \
                    T r = sqrt(x * x + y * y);                                                     \
                    T inv = 1 / (r > 0 ? r : (T)1);                                                \
                    GFN(T, r, b, g, dg);                                                           \
                    T ratio = r > 0 ? g * inv : dg;                                                \
                    T A = (dg + ratio) / 2, B = (dg - ratio) / 2;                                  \
                    T c = x * inv, w = y * inv;                                                    \
                    T q = c * gx + w * gy, p = w * gx - c * gy; /* u conj(G) = q + ip */           \
                    gz[2 * i] = A * gx + B * (c * q - w * p);                                      \
                    gz[2 * i + 1] = A * gy + B * (w * q + c * p);                                  \
                    acc += q * dg;                                                                 \
                }                                                                                  \
                total += acc;                                                                      \
            }                                                                                      \
            if (gbias)                                                                             \
                gbias[run % channels] += total;                                                    \
            j = end;                                                                               \
        }                                                                                          \
    }

/* Cardioid f = (1 + cos angle z) z / 2, cos angle z = x/r (0 at z = 0); its backward in real
   arithmetic with c = x/r, w = y/r:
     grad_x = (1 + c)/2 Gx + w/4 (Gy + 2cw Gx + (w^2 - c^2) Gy),
     grad_y = (1 + c)/2 Gy + w/4 ((w^2 - c^2) Gx - 2cw Gy - Gx). */
#define CARDIOID_KERNELS(SUF, T)                                                                   \
    CV_KERNEL void cv_cardioid_fwd_##SUF(int64_t start, int64_t stop, const T *z, T *out) {        \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1];                                                      \
            T r = sqrt(x * x + y * y);                                                             \
            T s = (x / (r > 0 ? r : (T)1) + 1) * (T)0.5;                                           \
            out[2 * i] = x * s;                                                                    \
            out[2 * i + 1] = y * s;                                                                \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL void cv_cardioid_bwd_##SUF(int64_t start, int64_t stop, const T *z, const T *grad,   \
                                         T *gz) {                                                  \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1], gx = grad[2 * i], gy = grad[2 * i + 1];              \
            T r = sqrt(x * x + y * y);                                                             \
            T inv = r > 0 ? 1 / r : (T)1;                                                          \
            T c = x * inv, w = y * inv;                                                            \
            T a = 2 * c * w, b = w * w - c * c, half = (1 + c) * (T)0.5, qw = (T)0.25 * w;         \
            gz[2 * i] = half * gx + qw * (gy + a * gx + b * gy);                                   \
            gz[2 * i + 1] = half * gy + qw * (b * gx - a * gy - gx);                               \
        }                                                                                          \
    }

/* zReLU: z where Re z > 0 and Im z > 0, else +0: multiplied by the mask, so NaN propagates, plus
   +0, so that -1 * 0 gives +0 as PyTorch's complex product z * mask does. */
#define ZRELU_KERNELS(SUF, T)                                                                      \
    CV_KERNEL void cv_zrelu_fwd_##SUF(int64_t start, int64_t stop, const T *z, T *out) {           \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1];                                                      \
            T m = (x > 0 && y > 0) ? (T)1 : (T)0;                                                  \
            out[2 * i] = x * m + 0;                                                                \
            out[2 * i + 1] = y * m + 0;                                                            \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL void cv_zrelu_bwd_##SUF(int64_t start, int64_t stop, const T *z, const T *grad,      \
                                      T *gz) {                                                     \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1]; /* loaded before &&, which would make y's            \
                                                 load conditional and stop vectorisation */        \
            T m = (x > 0 && y > 0) ? (T)1 : (T)0;                                                  \
            gz[2 * i] = grad[2 * i] * m + 0;                                                       \
            gz[2 * i + 1] = grad[2 * i + 1] * m + 0;                                               \
        }                                                                                          \
    }

/* PReLU on Re and Im with slopes w[0], w[1]: max(t, 0) + w min(t, 0); the backward adds
   sum(G min(t, 0)) per part into gw[0], gw[1]. */
#define CPRELU_KERNELS(SUF, T)                                                                     \
    CV_KERNEL void cv_cprelu_fwd_##SUF(int64_t start, int64_t stop, const T *z, T *out,            \
                                       const T *w) {                                               \
        T w0 = w[0], w1 = w[1];                                                                    \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1];                                                      \
            out[2 * i] = (x < 0 ? (T)0 : x) + w0 * (x > 0 ? (T)0 : x);                             \
            out[2 * i + 1] = (y < 0 ? (T)0 : y) + w1 * (y > 0 ? (T)0 : y);                         \
        }                                                                                          \
    }                                                                                              \
    CV_KERNEL void cv_cprelu_bwd_##SUF(int64_t start, int64_t stop, const T *z, const T *grad,     \
                                       T *gz, const T *w, double *gw) {                            \
        T w0 = w[0], w1 = w[1];                                                                    \
        double total0 = 0, total1 = 0;                                                             \
        for (int64_t k = start; k < stop; k += CV_BLOCK) {                                         \
            int64_t k_end = k + CV_BLOCK < stop ? k + CV_BLOCK : stop;                             \
            T acc0 = 0, acc1 = 0;                                                                  \
            CV_SIMD_SUM2 for (int64_t i = k; i < k_end; ++i) {                                     \
                T x = z[2 * i], y = z[2 * i + 1], gx = grad[2 * i], gy = grad[2 * i + 1];          \
                gz[2 * i] = x < 0 ? w0 * gx : gx;                                                  \
                gz[2 * i + 1] = y < 0 ? w1 * gy : gy;                                              \
                acc0 += gx * (x > 0 ? (T)0 : x);                                                   \
                acc1 += gy * (y > 0 ? (T)0 : y);                                                   \
            }                                                                                      \
            total0 += acc0;                                                                        \
            total1 += acc1;                                                                        \
        }                                                                                          \
        gw[0] += total0;                                                                           \
        gw[1] += total1;                                                                           \
    }

/* |z| and its backward grad * z/|z| (0 at z = 0). The float32 modulus is taken in double, so
   it neither overflows nor underflows; in double a second pass redoes with hypot() the
   elements whose square overflowed or underflowed (|z| beyond ~1e154 or below ~1e-154). */
CV_KERNEL void cv_abs_fwd_f32(int64_t start, int64_t stop, const float *z, float *out) {
    CV_SIMD for (int64_t i = start; i < stop; ++i) {
        double x = z[2 * i], y = z[2 * i + 1];
        out[i] = (float)sqrt(x * x + y * y);
    }
}

static inline int cv_square_unsafe(double x, double y, double r2) {
    return !(r2 <= 1.7976931348623157e308) || (r2 < 2.2250738585072014e-308 && (x != 0 || y != 0));
}

CV_KERNEL void cv_abs_fwd_f64(int64_t start, int64_t stop, const double *z, double *out) {
    int unsafe = 0;
    CV_SIMD for (int64_t i = start; i < stop; ++i) {
        double x = z[2 * i], y = z[2 * i + 1], r2 = x * x + y * y;
        unsafe |= cv_square_unsafe(x, y, r2);
        out[i] = sqrt(r2);
    }
    if (!unsafe)
        return;
    for (int64_t i = start; i < stop; ++i) {
        double x = z[2 * i], y = z[2 * i + 1];
        if (cv_square_unsafe(x, y, x * x + y * y))
            out[i] = hypot(x, y);
    }
}

/* grad_z = G z/|z| for a real G (0 at z = 0), with z/|z| taken after scaling by
   m = max(|x|, |y|), so that no modulus over- or underflows. */
#define ABS_BWD_KERNEL(SUF, T)                                                                     \
    CV_KERNEL void cv_abs_bwd_##SUF(int64_t start, int64_t stop, const T *z, const T *grad,        \
                                    T *gz) {                                                       \
        CV_SIMD for (int64_t i = start; i < stop; ++i) {                                           \
            T x = z[2 * i], y = z[2 * i + 1];                                                      \
            T ax = x < 0 ? -x : x, ay = y < 0 ? -y : y;                                            \
            T m = ax > ay ? ax : ay;                                                               \
            T inv_m = m > 0 ? 1 / m : (T)0;                                                        \
            T xs = x * inv_m, ys = y * inv_m;                                                      \
            T rs = sqrt(xs * xs + ys * ys);                                                        \
            T s = grad[i] / (rs > 0 ? rs : (T)1);                                                  \
            gz[2 * i] = xs * s;                                                                    \
            gz[2 * i + 1] = ys * s;                                                                \
        }                                                                                          \
    }

#define ALL_KERNELS(SUF, T)                                                                        \
    MODSCALE_KERNELS(modrelu, SUF, T, RELU_G)                                                      \
    CARDIOID_KERNELS(SUF, T)                                                                       \
    ZRELU_KERNELS(SUF, T)                                                                          \
    CPRELU_KERNELS(SUF, T)                                                                         \
    ABS_BWD_KERNEL(SUF, T)

ALL_KERNELS(f32, float)
ALL_KERNELS(f64, double)

/* An importable (empty) module, so that setuptools builds and installs this file as
   cvlayers._ckernels; the kernels are called through ctypes. */
static struct PyModuleDef cv_module = {PyModuleDef_HEAD_INIT, .m_name = "_ckernels", .m_doc = NULL,
                                       .m_size = -1};

PyMODINIT_FUNC PyInit__ckernels(void) { return PyModule_Create(&cv_module); }
