// Fused CPU kernels of the plastic RNN sequence (see fused.py for the notation and the PyTorch twin).
//
// Every batch row b evolves independently, so each row runs all T steps on its own (B-parallel with
// at::parallel_for); its (N, N) traces stay in the core's cache across the steps.  Per step the forward makes two
// passes over the row's traces (y = p (w + A*H), then the clipped trace update fused with the eligibility update);
// the backward recomputes each segment's traces from a checkpoint and makes one sweep per step over the gradient
// traces (through y of step t with the alpha gradient, then through clip/trace update/eligibility of step t - 1).
//
// Conventions: H[i*ld + j], i presynaptic, j postsynaptic, ld = N in the tensors the caller passes (H0, H_T, the
// gradients) and ld = row_width(N) (rows padded with zeros to whole vectors) in the kernels' own traces, the
// checkpoints and the recording's buffers; A = alpha expanded to (N, N) by the caller.
// rate_j(t) = eta (kind plastic), m(t) (modulated) or fan_c_j + m(t) fan_a_j (fan-out).
// Checkpoint s holds the traces entering step s*seg, after that step's reset.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace {

constexpr int64_t PLASTIC = 0, MODPLAST = 1, MODUL = 2;

// a * b + c, with one rounding where the CPU has FMA.  Every expression that defines a trace or its clip mask
// is written with it, so the backward's recompute of the traces matches the forward bit for bit whatever the
// compiler contracts elsewhere (the build allows contraction: fewer instructions in every pass).
template <typename T>
inline T mul_add(T a, T b, T c) {
#ifdef __FMA__
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// raw clipped to [-c, c], written as two selects, which the compiler makes a max and a min (the nested select
// raw < -c ? -c : (raw > c ? c : raw), the same value for every raw, NaN included, became six instructions).
template <typename T>
inline T clip_to(T raw, T c) {
  const T low = raw < -c ? -c : raw;
  return low > c ? c : low;
}

// The width, in elements, to which the step and the backward pad the rows of their matrices: a 512-bit vector
// of float.
constexpr int64_t LANES = 16;
int64_t row_width(int64_t n) { return (n + LANES - 1) / LANES * LANES; }

// Copies of an (N, N) matrix between rows of n entries and padded rows of ld entries (a padded destination's
// padding is left as it is).
template <typename T>
void rows_to_padded(const T* src, T* dst, int64_t n, int64_t ld) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * ld, src + i * n, n * sizeof(T));
}
template <typename T>
void padded_to_rows(const T* src, T* dst, int64_t n, int64_t ld) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * n, src + i * ld, n * sizeof(T));
}

// An (N, N) matrix as (N, row_width(N)), zero padding (w and alpha for the forward and the backward).
at::Tensor padded_rows(const at::Tensor& m) {
  const int64_t n = m.size(0);
  auto out = at::zeros({n, row_width(n)}, m.options());
  out.narrow(1, 0, n).copy_(m);
  return out;
}

// tanh that the compiler vectorises (glibc's tanhf is a scalar call per element, a large share of an acting step).
// float: tanh(x) = sign(x) * -q / (2 + q) with q = expm1(-2|x|), q from its Taylor series to degree
// 8 when 2|x| < ln2/2, else from exp(-2|x|) = 2^k exp(r), |r| <= ln2/2, Taylor to degree 7; error at most 3 ulp
// (1.5e-7 absolute), NaN stays NaN.  double keeps std::tanh (the float64 checks compare against torch.tanh).
inline float fast_tanh(float x) {
  float y = 2.0f * std::fabs(x);
  y = y > 40.0f ? 40.0f : y;  // tanh(20) is 1 in float; a NaN passes through
  const float z = -y;
  float qa = z * (1.0f / 40320.0f) + (1.0f / 5040.0f);
  qa = z * qa + (1.0f / 720.0f);
  qa = z * qa + (1.0f / 120.0f);
  qa = z * qa + (1.0f / 24.0f);
  qa = z * qa + (1.0f / 6.0f);
  qa = z * qa + 0.5f;
  qa = z * qa + 1.0f;
  qa = z * qa;
  const float k = std::floor(z * 1.44269504088896341f + 0.5f);
  const float r = (z - k * 0.693145751953125f) - k * 1.428606765330187045e-06f;  // ln2 in two parts
  float e = r * (1.0f / 5040.0f) + (1.0f / 720.0f);
  e = r * e + (1.0f / 120.0f);
  e = r * e + (1.0f / 24.0f);
  e = r * e + (1.0f / 6.0f);
  e = r * e + 0.5f;
  e = r * e + 1.0f;
  e = r * e + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;  // 2^k, k in [-58, 0]
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const float q = y < 0.346573590279972655f ? qa : e * scale - 1.0f;
  const float t = -q / (2.0f + q);
  return x < 0.0f ? -t : t;
}
inline double fast_tanh(double x) { return std::tanh(x); }

template <typename T>
struct Params {
  int64_t mode, t_len, batch, n, seg;
  int64_t ld;  // row stride of the kernels' own (N, N) matrices: row_width(N)
  int64_t slots = 1;  // the backward's per-thread d_alpha slots
  bool fanout, has_keep;
  T clip, eta, eta_e;
  const T *w, *alpha, *mod_w, *fan_a, *fan_c, *keep;
  T mod_b;
};

// rate_j for one row at one step.
template <typename T>
inline void rates(const Params<T>& P, T m, T* rate) {
  const int64_t n = P.n;
  if (P.mode == PLASTIC) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) rate[j] = P.eta;
  } else if (P.fanout) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) rate[j] = mul_add(m, P.fan_a[j], P.fan_c[j]);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) rate[j] = m;
  }
}

// One step of the trace update for one row: dst = clip(src + rate_j R), and for modul
// edst = (1 - eta_e) esrc + eta_e p x^T.  dst may alias src and edst may alias esrc.  The matrices have rows of
// P.ld entries; x, rate and rx have P.ld (zero past N).
template <typename T>
__attribute__((noinline)) void trace_update(const Params<T>& P, const T* src, T* dst, const T* esrc, T* edst,
                                            const T* p, const T* x, const T* rate, T* rx) {
  const int64_t n = P.n, ld = P.ld;
  const T c = P.clip;
  if (P.mode == MODUL) {
    const T ee = P.eta_e, de = T(1) - P.eta_e;
    for (int64_t i = 0; i < n; ++i) {
      const T* s = src + i * ld;
      const T* es = esrc + i * ld;
      T* d = dst + i * ld;
      T* ed = edst + i * ld;
      const T epi = ee * p[i];
#pragma omp simd
      for (int64_t j = 0; j < ld; ++j) {
        T raw = mul_add(rate[j], es[j], s[j]);
        d[j] = clip_to(raw, c);
        ed[j] = mul_add(epi, x[j], de * es[j]);
      }
    }
  } else {
#pragma omp simd
    for (int64_t j = 0; j < ld; ++j) rx[j] = rate[j] * x[j];
    for (int64_t i = 0; i < n; ++i) {
      const T* s = src + i * ld;
      T* d = dst + i * ld;
      const T pi = p[i];
#pragma omp simd
      for (int64_t j = 0; j < ld; ++j) {
        T raw = mul_add(pi, rx[j], s[j]);
        d[j] = clip_to(raw, c);
      }
    }
  }
}

template <typename T>
Params<T> make_params(int64_t mode, double clip, int64_t seg, const at::Tensor& a_seq, const at::Tensor& keep,
                      const at::Tensor& w, const at::Tensor& alpha, double eta, double eta_e,
                      const at::Tensor& mod_w, double mod_b, const at::Tensor& fan_a, const at::Tensor& fan_c) {
  Params<T> P;
  P.mode = mode;
  P.t_len = a_seq.size(0);
  P.batch = a_seq.size(1);
  P.n = a_seq.size(2);
  P.ld = row_width(P.n);
  P.seg = seg;
  P.clip = T(clip);
  P.eta = T(eta);
  P.eta_e = T(eta_e);
  P.mod_b = T(mod_b);
  P.w = w.data_ptr<T>();
  P.alpha = alpha.data_ptr<T>();
  P.mod_w = mod_w.numel() ? mod_w.data_ptr<T>() : nullptr;
  P.fanout = fan_a.numel() > 0;
  P.fan_a = P.fanout ? fan_a.data_ptr<T>() : nullptr;
  P.fan_c = P.fanout ? fan_c.data_ptr<T>() : nullptr;
  P.has_keep = keep.numel() > 0;
  P.keep = P.has_keep ? keep.data_ptr<T>() : nullptr;
  return P;
}

// The fused forward over T steps.  Each row's traces are kept in rows of P.ld entries (zero padding, as in the
// step and the backward; P.w and P.alpha are padded by the caller) and updated in place; h_out, e_out (B, N, N).
template <typename T>
void forward_impl(const Params<T>& P, const T* a, const T* x0, const T* h0, const T* e0, T* xs, T* ps, T* ms,
                  T* h_out, T* e_out, T* h_ck, T* e_ck, bool save) {
  at::parallel_for(0, P.batch, 1, [&](int64_t b0, int64_t b1) {
    const int64_t n = P.n, ld = P.ld, nn = n * n, np = n * ld, B = P.batch, TT = P.t_len;
    // Zero-initialised: the padding of H, E, pre, rate, rx and xp (= x) stays zero.
    std::vector<T> hp(np), ep(P.mode == MODUL ? np : 0), pre(ld), p(n), rate(ld), rx(ld), xp(ld);
    T* H = hp.data();
    T* E = P.mode == MODUL ? ep.data() : nullptr;
    for (int64_t b = b0; b < b1; ++b) {
      rows_to_padded(h0 + b * nn, H, n, ld);
      if (E) rows_to_padded(e0 + b * nn, E, n, ld);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) p[j] = x0[b * n + j];
      for (int64_t t = 0; t < TT; ++t) {
        if (P.has_keep && P.keep[t * B + b] == T(0)) {
          std::fill(p.begin(), p.end(), T(0));
          std::memset(H, 0, np * sizeof(T));
          if (E) std::memset(E, 0, np * sizeof(T));
        }
        if (save && t % P.seg == 0) {
          const int64_t s = t / P.seg;
          std::memcpy(h_ck + (s * B + b) * np, H, np * sizeof(T));
          if (E) std::memcpy(e_ck + (s * B + b) * np, E, np * sizeof(T));
        }
        if (save) std::memcpy(ps + (t * B + b) * n, p.data(), n * sizeof(T));
        const T* at_ = a + (t * B + b) * n;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) pre[j] = at_[j];
        for (int64_t i = 0; i < n; ++i) {
          const T pi = p[i];
          if (pi == T(0)) continue;
          const T* hr = H + i * ld;
          const T* wr = P.w + i * ld;
          const T* ar = P.alpha + i * ld;
#pragma omp simd
          for (int64_t j = 0; j < ld; ++j) pre[j] += pi * (wr[j] + ar[j] * hr[j]);
        }
        T* x = xs + (t * B + b) * n;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) xp[j] = x[j] = fast_tanh(pre[j]);
        T m = T(0);
        if (P.mode != PLASTIC) {
          T s = P.mod_b;
#pragma omp simd reduction(+ : s)
          for (int64_t j = 0; j < n; ++j) s += P.mod_w[j] * x[j];
          m = fast_tanh(s);
          ms[t * B + b] = m;
        }
        rates(P, m, rate.data());
        trace_update(P, H, H, E, E, p.data(), xp.data(), rate.data(), rx.data());
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) p[j] = x[j];
      }
      padded_to_rows(H, h_out + b * nn, n, ld);
      if (E) padded_to_rows(E, e_out + b * nn, n, ld);
    }
  });
}

// An uninitialised tensor of `sizes`, from a small process-wide pool of buffers: a pooled buffer is handed out
// again once nothing but the pool references its storage (the autograd graph that saved it is gone), so that the
// forwards of a training loop (PPO's minibatch passes) reuse the same memory instead of having the OS map and zero
// new pages each call (the checkpoints are tens of megabytes at the cue task's size).  The pool never hands out
// its own tensors, only views, so the storage's reference count is the one test; a view held anywhere (a saved
// tensor, a caller's variable) keeps the buffer taken.  At most kPoolSize buffers and kPoolBytes in all are kept
// (a larger request gets memory of its own), a free buffer of another size giving way to a new one.
at::Tensor pooled_empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
  constexpr size_t kPoolSize = 4;
  constexpr int64_t kPoolBytes = int64_t(512) << 20;
  static std::mutex mutex;
  static std::vector<at::Tensor> pool;
  int64_t numel = 1;
  for (int64_t d : sizes) numel *= d;
  if (numel == 0) return at::empty(sizes, options);
  const auto is_free = [](const at::Tensor& t) { return t.storage().use_count() == 1; };
  std::lock_guard<std::mutex> lock(mutex);
  for (const auto& t : pool)
    if (t.numel() == numel && t.scalar_type() == options.dtype().toScalarType() && is_free(t)) return t.view(sizes);
  auto fresh = at::empty({numel}, options);
  int64_t pooled = 0;
  for (const auto& t : pool) pooled += t.nbytes();
  if (pool.size() < kPoolSize && pooled + int64_t(fresh.nbytes()) <= kPoolBytes) {
    pool.push_back(fresh);
  } else {
    for (auto& t : pool)
      if (is_free(t) && pooled - int64_t(t.nbytes()) + int64_t(fresh.nbytes()) <= kPoolBytes) {
        t = fresh;
        break;
      }
  }
  return fresh.view(sizes);
}

std::vector<at::Tensor> forward(int64_t mode, double clip, int64_t seg, bool save, at::Tensor a_seq, at::Tensor keep,
                                at::Tensor x0, at::Tensor h0, at::Tensor e0, at::Tensor w, at::Tensor alpha,
                                double eta, double eta_e, at::Tensor mod_w, double mod_b, at::Tensor fan_a,
                                at::Tensor fan_c) {
  const int64_t TT = a_seq.size(0), B = a_seq.size(1), n = a_seq.size(2);
  const int64_t n_ck = save ? (TT + seg - 1) / seg : 0;
  auto xs = at::empty({TT, B, n}, a_seq.options());
  auto ps = at::empty({save ? TT : 0, B, n}, a_seq.options());
  auto ms = at::empty({mode == PLASTIC ? 0 : TT, B}, a_seq.options());
  auto h_out = at::empty({B, n, n}, a_seq.options());
  auto e_out = at::empty({mode == MODUL ? B : 0, n, n}, a_seq.options());
  const int64_t ld = row_width(n);
  // Every entry of the checkpoints is written below, so reused memory needs no clearing.
  auto h_ck = pooled_empty({n_ck, B, n, ld}, a_seq.options());
  auto e_ck = pooled_empty({mode == MODUL ? n_ck : 0, B, n, ld}, a_seq.options());
  const auto w_pad = padded_rows(w), alpha_pad = padded_rows(alpha);
  AT_DISPATCH_FLOATING_TYPES(a_seq.scalar_type(), "plastic_forward", [&] {
    auto P = make_params<scalar_t>(mode, clip, seg, a_seq, keep, w_pad, alpha_pad, eta, eta_e, mod_w, mod_b, fan_a,
                                   fan_c);
    forward_impl<scalar_t>(P, a_seq.data_ptr<scalar_t>(), x0.data_ptr<scalar_t>(), h0.data_ptr<scalar_t>(),
                           mode == MODUL ? e0.data_ptr<scalar_t>() : nullptr, xs.data_ptr<scalar_t>(),
                           ps.data_ptr<scalar_t>(), mode == PLASTIC ? nullptr : ms.data_ptr<scalar_t>(),
                           h_out.data_ptr<scalar_t>(), mode == MODUL ? e_out.data_ptr<scalar_t>() : nullptr,
                           h_ck.data_ptr<scalar_t>(), mode == MODUL ? e_ck.data_ptr<scalar_t>() : nullptr, save);
  });
  return {xs, ps, ms, h_out, e_out, h_ck, e_ck};
}

// One acting step t of a recorded rollout (see recording.py), per row in a single pass over the traces.
// The recording's matrices (H, E, their checkpoints, w and alpha) have rows of P.ld entries, N padded to whole
// vectors with zeros, as the backward's (see backward_rows).
// drive (B, P.ld) holds r(t)_j = sum_i x_i(t-1) (w_ij + A_ij H_ij(t)), left by the previous step (zeros at t = 0), so
// x(t) = tanh(b_in + W_in u(t) + r(t)) needs no pass over H; the pass that advances H (and E) to step t + 1 then
// accumulates r(t+1) from the new traces.  Writes x(t) to xs_buf[t + 1] (row 0 holds x(-1) = 0), M(t) to ms[t],
// the traces entering the step to checkpoint t / seg when seg divides t, and, when a readout is given (A > 0),
// out (B, A) = b_out + W_out x(t) (the policy's logits) and actions (B) = argmax_a out_a + noise_a, noise (B, A)
// the step's Gumbel noise (argmax of out alone when noise is null): the actions drawn from softmax(out), so
// acting needs no other op per step.  The argmax is NumPy's: the first maximum, a NaN counting as the maximum.
template <typename T>
struct StepIO {
  const T *u, *w_in_t, *b_in, *w_out, *b_out;  // u (B, I), w_in_t (I, N) = W_in^T, b_in (N), W_out (A, N), b_out (A)
  int64_t inputs, readouts;
  T *xb, *ms, *H_all, *E_all, *drive, *h_ck, *e_ck, *out;
  const double* noise;
  int64_t* actions;
};

// Columns [j0, j0 + W) of an acting step's pass over one row's traces (see step_impl): H (and E) advanced in
// place, r_j = sum_i x_i (w_ij + A_ij H_ij) accumulated over the rows i in registers (accumulated in memory, each
// row's sums waited on the previous row's stores).
template <typename T, bool MOD, int64_t W>
inline void trace_pass_block(const Params<T>& P, int64_t j0, T* H, T* E, const T* p, const T* xp, const T* rate,
                             const T* rx, T* r) {
  const int64_t n = P.n, ld = P.ld;
  const T c = P.clip, ee = P.eta_e, de = T(1) - P.eta_e;
  T acc[W];
  for (int64_t j = 0; j < W; ++j) acc[j] = T(0);
  for (int64_t i = 0; i < n; ++i) {
    T* h = H + i * ld + j0;
    const T* wr = P.w + i * ld + j0;
    const T* ar = P.alpha + i * ld + j0;
    const T xi = xp[i];
    if constexpr (MOD) {
      T* e = E + i * ld + j0;
      const T epi = ee * p[i];
#pragma omp simd
      for (int64_t j = 0; j < W; ++j) {
        const T hn = clip_to(mul_add(rate[j0 + j], e[j], h[j]), c);
        h[j] = hn;
        e[j] = mul_add(epi, xp[j0 + j], de * e[j]);
        acc[j] += xi * (wr[j] + ar[j] * hn);
      }
    } else {
      const T pi = p[i];
#pragma omp simd
      for (int64_t j = 0; j < W; ++j) {
        const T hn = clip_to(mul_add(pi, rx[j0 + j], h[j]), c);
        h[j] = hn;
        acc[j] += xi * (wr[j] + ar[j] * hn);
      }
    }
  }
  for (int64_t j = 0; j < W; ++j) r[j0 + j] = acc[j];
}

// The whole pass, in blocks of 4 vectors (P.ld is a whole number of vectors): p = x(t-1) (N); xp = x(t), rate and
// rx = rate * x(t) with P.ld entries, zero past N; r (P.ld) receives the next step's recurrent input.
template <typename T, bool MOD>
void trace_pass(const Params<T>& P, T* H, T* E, const T* p, const T* xp, const T* rate, const T* rx, T* r) {
  int64_t j0 = 0;
  for (; j0 + 4 * LANES <= P.ld; j0 += 4 * LANES)
    trace_pass_block<T, MOD, 4 * LANES>(P, j0, H, E, p, xp, rate, rx, r);
  switch ((P.ld - j0) / LANES) {
    case 1: trace_pass_block<T, MOD, LANES>(P, j0, H, E, p, xp, rate, rx, r); break;
    case 2: trace_pass_block<T, MOD, 2 * LANES>(P, j0, H, E, p, xp, rate, rx, r); break;
    case 3: trace_pass_block<T, MOD, 3 * LANES>(P, j0, H, E, p, xp, rate, rx, r); break;
    default: break;
  }
}

template <typename T>
void step_impl(const Params<T>& P, int64_t t, const StepIO<T>& io) {
  at::parallel_for(0, P.batch, 1, [&](int64_t b0, int64_t b1) {
    const int64_t n = P.n, ld = P.ld, np = n * ld, B = P.batch, I = io.inputs;
    std::vector<T> rate(ld), rx(ld), pre(n), xp(ld);  // rate, rx, xp (= x) zero in the padding
    for (int64_t b = b0; b < b1; ++b) {
      const T* p = io.xb + (t * B + b) * n;
      T* x = io.xb + ((t + 1) * B + b) * n;
      T* r = io.drive + b * ld;
      T* H = io.H_all + b * np;
      T* E = P.mode == MODUL ? io.E_all + b * np : nullptr;
      if (t % P.seg == 0) {
        const int64_t s = t / P.seg;
        std::memcpy(io.h_ck + (s * B + b) * np, H, np * sizeof(T));
        if (E) std::memcpy(io.e_ck + (s * B + b) * np, E, np * sizeof(T));
      }
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) pre[j] = io.b_in[j] + r[j];
      for (int64_t k = 0; k < I; ++k) {
        const T uk = io.u[b * I + k];
        if (uk == T(0)) continue;  // one-hot observations: most inputs are zero
        const T* wk = io.w_in_t + k * n;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) pre[j] += uk * wk[j];
      }
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) xp[j] = x[j] = fast_tanh(pre[j]);
      for (int64_t a = 0; a < io.readouts; ++a) {
        const T* wa = io.w_out + a * n;
        T s = io.b_out[a];
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; ++j) s += wa[j] * x[j];
        io.out[b * io.readouts + a] = s;
      }
      if (io.readouts > 0) {
        const T* o = io.out + b * io.readouts;
        const double* g = io.noise ? io.noise + b * io.readouts : nullptr;
        int64_t best_a = 0;
        double best = double(o[0]) + (g ? g[0] : 0.0);
        for (int64_t a = 1; a < io.readouts && !std::isnan(best); ++a) {
          const double v = double(o[a]) + (g ? g[a] : 0.0);
          if (v > best || std::isnan(v)) best = v, best_a = a;
        }
        io.actions[b] = best_a;
      }
      T m = T(0);
      if (P.mode != PLASTIC) {
        T s = P.mod_b;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; ++j) s += P.mod_w[j] * x[j];
        m = fast_tanh(s);
        io.ms[t * B + b] = m;
      }
      rates(P, m, rate.data());
#pragma omp simd
      for (int64_t j = 0; j < ld; ++j) rx[j] = rate[j] * xp[j];
      if (E)
        trace_pass<T, true>(P, H, E, p, xp.data(), rate.data(), rx.data(), r);
      else
        trace_pass<T, false>(P, H, E, p, xp.data(), rate.data(), rx.data(), r);
    }
  });
}

// The acting steps of one recording: holds its tensors (the parameters' copies, the buffers the steps write), so
// that a step passes only t, the input u (B, I) and the noise block with its row k (a call with all the tensors
// cost a few microseconds a step).
class Stepper {
 public:
  virtual ~Stepper() = default;
  virtual void step(int64_t t, const at::Tensor& u, const at::Tensor& noise, int64_t k) = 0;
};

template <typename T>
class StepperImpl final : public Stepper {
 public:
  StepperImpl(std::vector<at::Tensor> held, const Params<T>& P, const StepIO<T>& io, int64_t xs_rows,
              int64_t ms_rows, int64_t ck_rows)
      : held_(std::move(held)), P_(P), io_(io), xs_rows_(xs_rows), ms_rows_(ms_rows), ck_rows_(ck_rows) {}

  void step(int64_t t, const at::Tensor& u, const at::Tensor& noise, int64_t k) override {
    TORCH_CHECK(u.dim() == 2 && u.size(0) == P_.batch && u.size(1) == io_.inputs && u.is_contiguous() &&
                    u.scalar_type() == held_[0].scalar_type(),
                "step input must be a contiguous (", P_.batch, ", ", io_.inputs,
                ") tensor of the recording's dtype");
    TORCH_CHECK(t >= 0 && t + 1 < xs_rows_ && (P_.mode == PLASTIC || t < ms_rows_), "step index out of range");
    TORCH_CHECK(t % P_.seg != 0 || t / P_.seg < ck_rows_, "checkpoint index out of range");
    const bool noisy = noise.numel() > 0;
    TORCH_CHECK(!noisy || (noise.dim() == 3 && noise.size(1) == P_.batch && noise.size(2) == io_.readouts &&
                           noise.scalar_type() == at::kDouble && noise.is_contiguous() && k >= 0 &&
                           k < noise.size(0)),
                "step noise must be empty or a contiguous float64 (K, B, A) tensor with 0 <= k < K");
    io_.u = u.data_ptr<T>();
    io_.noise = noisy ? noise.data_ptr<double>() + k * P_.batch * io_.readouts : nullptr;
    step_impl<T>(P_, t, io_);
  }

 private:
  std::vector<at::Tensor> held_;  // [0] hebb, then every tensor the pointers in P_ and io_ point into
  Params<T> P_;
  StepIO<T> io_;
  int64_t xs_rows_, ms_rows_, ck_rows_;
};

std::unique_ptr<Stepper> stepper(int64_t mode, double clip, int64_t seg, at::Tensor w_in_t, at::Tensor b_in,
                                 at::Tensor xs_buf, at::Tensor ms, at::Tensor hebb, at::Tensor elig, at::Tensor drive,
                                 at::Tensor h_ck, at::Tensor e_ck, at::Tensor w, at::Tensor alpha, double eta,
                                 double eta_e, at::Tensor mod_w, double mod_b, at::Tensor fan_a, at::Tensor fan_c,
                                 at::Tensor w_out, at::Tensor b_out, at::Tensor out, at::Tensor actions) {
  const int64_t B = hebb.size(0), n = hebb.size(1), ld = hebb.size(2), I = w_in_t.size(0), A = w_out.size(0);
  TORCH_CHECK(ld == row_width(n) && w.size(1) == ld && alpha.size(1) == ld && drive.size(1) == ld &&
                  h_ck.size(3) == ld && (mode != MODUL || (elig.size(2) == ld && e_ck.size(3) == ld)),
              "step matrices must have rows of row_width(N) entries");
  TORCH_CHECK(xs_buf.dim() == 3 && xs_buf.size(1) == B && xs_buf.size(2) == n && w_in_t.size(1) == n &&
                  b_in.numel() == n, "step input shapes do not match");
  TORCH_CHECK(A == 0 || (w_out.size(1) == n && b_out.numel() == A && out.size(0) == B && out.size(1) == A),
              "step readout shapes do not match");
  TORCH_CHECK(A == 0 || (actions.scalar_type() == at::kLong && actions.is_contiguous() && actions.numel() == B),
              "step actions must be a contiguous int64 tensor of B entries");
  std::vector<at::Tensor> held{hebb, w_in_t, b_in, xs_buf, ms, elig, drive, h_ck, e_ck, w, alpha, mod_w, fan_a,
                               fan_c, w_out, b_out, out};
  for (const auto& x : held)
    TORCH_CHECK(x.is_contiguous() && x.scalar_type() == hebb.scalar_type(),
                "step tensors must be contiguous and of one dtype");
  std::unique_ptr<Stepper> result;
  AT_DISPATCH_FLOATING_TYPES(hebb.scalar_type(), "plastic_stepper", [&] {
    using T = scalar_t;
    auto P = make_params<T>(mode, clip, seg, xs_buf.narrow(0, 0, 1), at::empty({0}, hebb.options()), w, alpha, eta,
                            eta_e, mod_w, mod_b, fan_a, fan_c);
    StepIO<T> io{nullptr, w_in_t.data_ptr<T>(), b_in.data_ptr<T>(), A ? w_out.data_ptr<T>() : nullptr,
                 A ? b_out.data_ptr<T>() : nullptr, I, A, xs_buf.data_ptr<T>(),
                 mode == PLASTIC ? nullptr : ms.data_ptr<T>(), hebb.data_ptr<T>(),
                 mode == MODUL ? elig.data_ptr<T>() : nullptr, drive.data_ptr<T>(), h_ck.data_ptr<T>(),
                 mode == MODUL ? e_ck.data_ptr<T>() : nullptr, A ? out.data_ptr<T>() : nullptr, nullptr,
                 A ? actions.data_ptr<int64_t>() : nullptr};
    held.push_back(actions);
    result = std::make_unique<StepperImpl<T>>(std::move(held), P, io, xs_buf.size(0), ms.size(0), h_ck.size(0));
  });
  return result;
}

// The backward's view of one step t of one row: its inputs (traces entering the step, x(t-1), x(t), rate) and
// its per-step gradient vectors, each (N).
template <typename T>
struct BackStep {
  const T *h, *e, *p, *x;  // H(t), E(t) (N, N) row-major (e: modul only); p = x(t-1), x = x(t)
  T m;                     // M(t)
  T *rate, *rx, *z, *drate, *dp;
  T sum_ge_e;              // modul: sum_ij g_E_ij E_ij, for d_eta_e
};

// One sweep over the rows i of the gradient traces gh (dL/dH) and ge (dL/dE), doing for each row
//   pass 2 of step s2 (DO2): through y_j = sum_i p_i (w_ij + A_ij H_ij): d_p_i, gh += p_i d_pre_j A_ij and
//     d_alpha += p_i d_pre_j H_ij;
//   then pass 1 of step s1 (DO1), the step before: through the clip of H(t+1) = clip(H + rate_j R) (gh <- gh *
//     mask), the trace update and, for modul, the eligibility update.
// Row i of pass 1 needs only row i of what pass 2 leaves, so one sweep does both while the row is in registers:
// the gradient traces are read and written once per step instead of twice.
template <typename T, bool MOD, bool DO2, bool DO1>
inline void sweep(const Params<T>& P, const T* dpre, BackStep<T>& s2, BackStep<T>& s1, T* gh, T* ge, T* dal) {
  const int64_t n = P.n, ld = P.ld;
  const T c = P.clip, ee = P.eta_e, de = T(1) - P.eta_e;
  T sge = 0;
  for (int64_t i = 0; i < n; ++i) {
    T* ghr = gh + i * ld;
    T* ger = MOD ? ge + i * ld : nullptr;
    T* dar = dal + i * ld;
    const T* wr = P.w + i * ld;
    const T* ar = P.alpha + i * ld;
    const T* h2 = DO2 ? s2.h + i * ld : nullptr;
    const T* h1 = DO1 ? s1.h + i * ld : nullptr;
    const T* e1 = (DO1 && MOD) ? s1.e + i * ld : nullptr;
    const T p2 = DO2 ? s2.p[i] : T(0), p1 = DO1 ? s1.p[i] : T(0);
    const T *x1 = s1.x, *rate1 = s1.rate, *rx1 = s1.rx;
    T *z1 = s1.z, *drate1 = s1.drate;
    T acc = 0, dpi = 0;
#pragma omp simd reduction(+ : acc, dpi, sge)
    for (int64_t j = 0; j < ld; ++j) {
      T g = ghr[j];
      if constexpr (DO2) {
        const T a = ar[j], hv = h2[j];
        acc += (wr[j] + a * hv) * dpre[j];
        const T pd = p2 * dpre[j];
        g += pd * a;
        dar[j] += pd * hv;
      }
      if constexpr (DO1) {
        if constexpr (MOD) {
          const T raw = mul_add(rate1[j], e1[j], h1[j]);
          const T gr = std::abs(raw) <= c ? g : T(0);
          const T gE = ger[j];
          z1[j] += p1 * gE;
          dpi += gE * x1[j];
          sge += gE * e1[j];
          drate1[j] += gr * e1[j];
          ger[j] = de * gE + gr * rate1[j];
          g = gr;
        } else {
          const T raw = mul_add(p1, rx1[j], h1[j]);
          const T gr = std::abs(raw) <= c ? g : T(0);
          z1[j] += p1 * gr;
          dpi += gr * rx1[j];
          g = gr;
        }
      }
      ghr[j] = g;
    }
    if (DO2) s2.dp[i] += acc;
    if (DO1) s1.dp[i] = MOD ? ee * dpi : dpi;
  }
  if (DO1) s1.sum_ge_e = sge;
}

// Scratch buffer `slot` of the calling thread, `size` zeros: kept from call to call, so that a backward does not
// map and zero megabytes of new pages for it each time (at the cue task's size its segment's traces are 3.6 MB).
// A slot is one buffer per thread and type: a caller must not hold two of the same slot at once.
template <typename T>
std::vector<T>& zeroed_scratch(int slot, int64_t size) {
  thread_local std::vector<T> buffers[5];
  std::vector<T>& v = buffers[slot];
  v.assign(size, T(0));
  return v;
}

// Per-row gradient accumulators, summed over rows by the caller: d_mod_w, d_fan_a, d_fan_c (B, N), d_scalars
// (B, 3) = (d_eta, d_eta_e, d_mod_b); d_alpha (S, N, N) per thread (each thread adds the sum over its rows into
// slot at::get_thread_num() < S), summed by the caller.  g_h_all, g_e_all (B, N, N): the incoming gradients of
// the final traces, replaced by d_h0, d_e0; null when there are none and d_h0, d_e0 are not wanted (the replay).
//
// The (N, N) matrices of the passes (checkpoints, recomputed traces, gradient traces, d_alpha, and P.w, P.alpha,
// which the caller pads) are laid out with rows of P.ld >= N entries, P.ld a multiple of the vector width, the
// padding zero: the passes then run whole vectors (N = 100 would otherwise end every row with a scalar tail of 4,
// which costs as much as many whole vectors); zero padding stays zero through every pass.  Vectors that a pass
// reads (x, rate, rx, z, d_pre) are padded the same way.
//
// Per row and segment (last first): recompute the segment's traces from its checkpoint, then for each step t,
// last first: pass 1 of step t (done by the previous sweep, or alone at the segment's last step and after a
// reset), the step's vector part (z, rate and modulator gradients, d_pre), then pass 2 of step t fused with pass 1
// of step t - 1 (see sweep), unless t starts the segment or resets the row.
template <typename T, bool MOD>
void backward_rows(const Params<T>& P, const T* xs, const T* ps, const T* ms, const T* h_ck, const T* e_ck,
                   const T* g_xs, T* g_h_all, T* g_e_all, T* d_pre, T* d_x0, T* d_alpha_all,
                   T* d_mod_w_all, T* d_fan_a_all, T* d_fan_c_all, T* d_sc_all) {
  at::parallel_for(0, P.batch, 1, [&](int64_t b0, int64_t b1) {
    const int64_t n = P.n, ld = P.ld, nn = n * n, np = n * ld, B = P.batch, TT = P.t_len, seg = P.seg;
    const bool modulated = P.mode != PLASTIC;
    const int64_t n_seg = (TT + seg - 1) / seg;
    const T ee = P.eta_e;
    const int64_t len = std::min(seg, TT);
    // Zero-initialised, so the padding is zero; no pass writes a nonzero there.  The large ones are the thread's
    // own, kept from call to call (see zeroed_scratch).
    std::vector<T>& hs = zeroed_scratch<T>(0, len * np);
    std::vector<T>& es = zeroed_scratch<T>(1, MOD ? len * np : 0);
    std::vector<T>& gh = zeroed_scratch<T>(2, np);
    std::vector<T>& ge = zeroed_scratch<T>(3, MOD ? np : 0);
    std::vector<T>& dal = zeroed_scratch<T>(4, np);
    std::vector<T> vec(12 * ld), gx(n), dpre(ld), carry(n), rate_scratch(ld), rx_scratch(ld), x_scratch(ld);
    BackStep<T> steps[2];
    T* x_pad[2];
    for (int k = 0; k < 2; ++k) {
      T* v = vec.data() + 6 * k * ld;
      steps[k].rate = v;
      steps[k].rx = v + ld;
      steps[k].z = v + 2 * ld;
      steps[k].drate = v + 3 * ld;
      steps[k].dp = v + 4 * ld;
      x_pad[k] = v + 5 * ld;
    }
    for (int64_t b = b0; b < b1; ++b) {
      if (g_h_all)
        rows_to_padded(g_h_all + b * nn, gh.data(), n, ld);
      else
        std::fill(gh.begin(), gh.end(), T(0));
      if (MOD && g_e_all)
        rows_to_padded(g_e_all + b * nn, ge.data(), n, ld);
      else if (MOD)
        std::fill(ge.begin(), ge.end(), T(0));
      T* dmw = modulated ? d_mod_w_all + b * n : nullptr;
      T* dfa = P.fanout ? d_fan_a_all + b * n : nullptr;
      T* dfc = P.fanout ? d_fan_c_all + b * n : nullptr;
      T d_eta = 0, d_eta_e = 0, d_mod_b = 0;
      std::fill(carry.begin(), carry.end(), T(0));
      for (int64_t s = n_seg - 1; s >= 0; --s) {
        const int64_t t0 = s * seg, t1 = std::min(TT, t0 + seg);
        // Recompute the traces entering steps t0 + 1 .. t1-1 (after their resets); those entering t0 are the
        // checkpoint itself, read in place.
        const T* h_first = h_ck + (s * B + b) * np;
        const T* e_first = MOD ? e_ck + (s * B + b) * np : nullptr;
        auto h_at = [&](int64_t t) -> const T* { return t == t0 ? h_first : hs.data() + (t - t0) * np; };
        auto e_at = [&](int64_t t) -> const T* { return t == t0 ? e_first : es.data() + (t - t0) * np; };
        for (int64_t t = t0; t + 1 < t1; ++t) {
          const int64_t i = t - t0;
          T* rate = rate_scratch.data();
          rates(P, modulated ? ms[t * B + b] : T(0), rate);
          std::memcpy(x_scratch.data(), xs + (t * B + b) * n, n * sizeof(T));
          T* hn = hs.data() + (i + 1) * np;
          T* en = MOD ? es.data() + (i + 1) * np : nullptr;
          trace_update(P, h_at(t), hn, MOD ? e_at(t) : nullptr, en,
                       ps + (t * B + b) * n, x_scratch.data(), rate, rx_scratch.data());
          if (P.has_keep && P.keep[(t + 1) * B + b] == T(0)) {
            std::memset(hn, 0, np * sizeof(T));
            if (MOD) std::memset(en, 0, np * sizeof(T));
          }
        }
        // Fill steps[t & 1] with step t's inputs and zeroed gradient vectors.
        auto prepare = [&](int64_t t) -> BackStep<T>& {
          BackStep<T>& st = steps[t & 1];
          st.h = h_at(t);
          st.e = MOD ? e_at(t) : nullptr;
          st.p = ps + (t * B + b) * n;
          std::memcpy(x_pad[t & 1], xs + (t * B + b) * n, n * sizeof(T));
          st.x = x_pad[t & 1];
          st.m = modulated ? ms[t * B + b] : T(0);
          rates(P, st.m, st.rate);
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) {
            st.rx[j] = st.rate[j] * st.x[j];
            st.z[j] = T(0);
            st.drate[j] = T(0);
          }
          st.sum_ge_e = T(0);
          return st;
        };
        sweep<T, MOD, false, true>(P, dpre.data(), steps[0], prepare(t1 - 1), gh.data(), ge.data(), dal.data());
        for (int64_t t = t1 - 1; t >= t0; --t) {
          BackStep<T>& st = steps[t & 1];
          const T* x = st.x;
          const T* gxt = g_xs + (t * B + b) * n;
          // The step's vector part: gradients of x(t) through the trace update, the rate and the modulator.
          if (MOD) {
            T zx = 0;
#pragma omp simd reduction(+ : zx)
            for (int64_t j = 0; j < n; ++j) {
              zx += st.z[j] * x[j];
              gx[j] = gxt[j] + carry[j] + ee * st.z[j];
            }
            d_eta_e += zx - st.sum_ge_e;
          } else {
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) {
              st.drate[j] = st.z[j] * x[j];
              gx[j] = gxt[j] + carry[j] + st.rate[j] * st.z[j];
            }
          }
          if (P.mode == PLASTIC) {
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) d_eta += st.drate[j];
          } else {
            const T m = st.m;
            T dm = 0;
            if (P.fanout) {
#pragma omp simd
              for (int64_t j = 0; j < n; ++j) {
                dfa[j] += st.drate[j] * m;
                dfc[j] += st.drate[j];
                dm += st.drate[j] * P.fan_a[j];
              }
            } else {
#pragma omp simd
              for (int64_t j = 0; j < n; ++j) dm += st.drate[j];
            }
            const T dml = dm * (T(1) - m * m);
            d_mod_b += dml;
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) {
              dmw[j] += dml * x[j];
              gx[j] += dml * P.mod_w[j];
            }
          }
          T* dpt = d_pre + (t * B + b) * n;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) dpt[j] = dpre[j] = gx[j] * (T(1) - x[j] * x[j]);
          // Pass 2 of step t, with pass 1 of step t - 1 when both are in this segment and the row does not
          // reset at t (a reset cuts the gradient of the traces entering step t).
          const bool reset = P.has_keep && P.keep[t * B + b] == T(0);
          if (t > t0 && !reset) {
            sweep<T, MOD, true, true>(P, dpre.data(), st, prepare(t - 1), gh.data(), ge.data(), dal.data());
          } else {
            sweep<T, MOD, true, false>(P, dpre.data(), st, st, gh.data(), ge.data(), dal.data());
          }
          if (reset) {
            std::fill(st.dp, st.dp + n, T(0));
            std::fill(gh.begin(), gh.end(), T(0));
            std::fill(ge.begin(), ge.end(), T(0));
          }
          std::copy(st.dp, st.dp + n, carry.begin());
          if (reset && t > t0)
            sweep<T, MOD, false, true>(P, dpre.data(), st, prepare(t - 1), gh.data(), ge.data(), dal.data());
        }
      }
      if (g_h_all) padded_to_rows(gh.data(), g_h_all + b * nn, n, ld);
      if (MOD && g_e_all) padded_to_rows(ge.data(), g_e_all + b * nn, n, ld);
      std::copy(carry.begin(), carry.end(), d_x0 + b * n);
      d_sc_all[b * 3 + 0] = d_eta;
      d_sc_all[b * 3 + 1] = d_eta_e;
      d_sc_all[b * 3 + 2] = d_mod_b;
    }
    if (b1 > b0) {
      const int64_t tid = at::get_thread_num();
      TORCH_INTERNAL_ASSERT(tid >= 0 && tid < P.slots, "thread ", tid, " has no d_alpha slot");
      T* slot = d_alpha_all + tid * nn;
      for (int64_t i = 0; i < n; ++i) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) slot[i * n + j] += dal[i * ld + j];
      }
    }
  });
}

// The backward for one mode (MOD: modul, with eligibility traces); see backward_rows.
template <typename T>
void backward_impl(const Params<T>& P, const T* xs, const T* ps, const T* ms, const T* h_ck, const T* e_ck,
                   const T* g_xs, T* g_h_all, T* g_e_all, T* d_pre, T* d_x0, T* d_alpha_all,
                   T* d_mod_w_all, T* d_fan_a_all, T* d_fan_c_all, T* d_sc_all) {
  if (P.mode == MODUL)
    backward_rows<T, true>(P, xs, ps, ms, h_ck, e_ck, g_xs, g_h_all, g_e_all, d_pre, d_x0, d_alpha_all,
                           d_mod_w_all, d_fan_a_all, d_fan_c_all, d_sc_all);
  else
    backward_rows<T, false>(P, xs, ps, ms, h_ck, e_ck, g_xs, g_h_all, g_e_all, d_pre, d_x0, d_alpha_all,
                            d_mod_w_all, d_fan_a_all, d_fan_c_all, d_sc_all);
}

// Returns (d_pre (T, B, N), d_x0 (B, N), d_h0 (B, N, N), d_e0, d_alpha (S, N, N) per thread, d_mod_w (B, N),
// d_fan_a (B, N), d_fan_c (B, N), d_scalars (B, 3)); g_hebb and g_elig (B, N, N) are the incoming gradients of the
// final traces and are consumed (become d_h0 and d_e0), or both empty: no incoming gradient, and d_h0, d_e0 are
// returned empty (not computed).
std::vector<at::Tensor> backward(int64_t mode, double clip, int64_t seg, at::Tensor xs, at::Tensor ps, at::Tensor ms,
                                 at::Tensor keep, at::Tensor h_ck, at::Tensor e_ck, at::Tensor g_xs,
                                 at::Tensor g_hebb, at::Tensor g_elig, at::Tensor w, at::Tensor alpha, double eta,
                                 double eta_e, at::Tensor mod_w, double mod_b, at::Tensor fan_a, at::Tensor fan_c) {
  const int64_t B = xs.size(1), n = xs.size(2);
  auto d_pre = at::empty_like(xs);
  auto d_x0 = at::empty({B, n}, xs.options());
  auto d_alpha = at::zeros({std::max<int64_t>(1, at::get_num_threads()), n, n}, xs.options());
  const bool have_gh = g_hebb.numel() > 0, have_ge = g_elig.numel() > 0;
  TORCH_CHECK(mode != MODUL || have_gh == have_ge, "give both final-trace gradients or neither");
  auto d_mod_w = at::zeros({mode == PLASTIC ? 0 : B, n}, xs.options());
  const bool fan = fan_a.numel() > 0;
  auto d_fan_a = at::zeros({fan ? B : 0, n}, xs.options());
  auto d_fan_c = at::zeros({fan ? B : 0, n}, xs.options());
  auto d_sc = at::zeros({B, 3}, xs.options());
  // w and alpha with rows padded to a multiple of the vector width (see backward_rows).
  const int64_t ld = row_width(n);
  TORCH_CHECK(h_ck.size(3) == ld, "checkpoint rows must have row_width(N) entries");
  const auto w_pad = padded_rows(w), alpha_pad = padded_rows(alpha);
  AT_DISPATCH_FLOATING_TYPES(xs.scalar_type(), "plastic_backward", [&] {
    auto P = make_params<scalar_t>(mode, clip, seg, xs, keep, w_pad, alpha_pad, eta, eta_e, mod_w, mod_b, fan_a,
                                   fan_c);
    P.slots = d_alpha.size(0);
    backward_impl<scalar_t>(P, xs.data_ptr<scalar_t>(), ps.data_ptr<scalar_t>(),
                            mode == PLASTIC ? nullptr : ms.data_ptr<scalar_t>(), h_ck.data_ptr<scalar_t>(),
                            mode == MODUL ? e_ck.data_ptr<scalar_t>() : nullptr, g_xs.data_ptr<scalar_t>(),
                            have_gh ? g_hebb.data_ptr<scalar_t>() : nullptr,
                            mode == MODUL && have_ge ? g_elig.data_ptr<scalar_t>() : nullptr,
                            d_pre.data_ptr<scalar_t>(), d_x0.data_ptr<scalar_t>(), d_alpha.data_ptr<scalar_t>(),
                            mode == PLASTIC ? nullptr : d_mod_w.data_ptr<scalar_t>(),
                            fan ? d_fan_a.data_ptr<scalar_t>() : nullptr, fan ? d_fan_c.data_ptr<scalar_t>() : nullptr,
                            d_sc.data_ptr<scalar_t>());
  });
  return {d_pre, d_x0, g_hebb, g_elig, d_alpha, d_mod_w, d_fan_a, d_fan_c, d_sc};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "fused plastic RNN sequence forward (CPU)");
  m.def("backward", &backward, "fused plastic RNN sequence backward (CPU)");
  pybind11::class_<Stepper>(m, "Stepper")
      .def("step", &Stepper::step,
           "acting step t of the recording on input u (B, I), in place, drawing the actions with noise[k] "
           "((K, B, A) float64, or empty for the argmax)");
  m.def("stepper", &stepper, "the acting steps of a recorded rollout (CPU), holding the recording's tensors");
  m.def("row_width", &row_width, "the padded row length of the kernel's own (N, N) matrices (traces, checkpoints)");
}
