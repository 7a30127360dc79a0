// The cache bandwidth a kernel pass at the cue task's size can have on this machine: each of two threads streams
// READ matrices of the kernel's shape (200 rows of row_width(200) = 208 floats), row i of every matrix and then row
// i + 1, as the kernel's passes do, and writes back the first WRITE of them; each thread cycles through its own
// FOOTPRINT matrices, so that every pass reads from where the kernel's data lives (the L3 cache, since a batch
// row's traces outgrow the 512 KiB L2).  The arithmetic is one add per element read and one multiply-add per
// element written, far less than the kernel's, so the time is the data movement's.
//
// Prints one JSON object: for each pattern, its matrices read and written, the best of five rounds in
// microseconds per pass of one thread (both threads running) and the bytes per second of one thread.
//
//   bash docs/results/performance/floor/run.sh   (builds it with the kernel's flags, runs it, then side_by_side.sh)
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <vector>

constexpr long kRows = 200, kLd = 208, kMatrix = kRows * kLd;  // floats per matrix, padded as the kernel's
constexpr int kPasses = 300;

template <int READ, int WRITE>
void pattern(const char* name, int footprint, bool last) {
  static_assert(WRITE <= READ, "written matrices are among the read ones");
  double best = 1e30;
#pragma omp parallel num_threads(2)
  {
    std::vector<float> buf(footprint * kMatrix, 0.5f);
    float sink = 0;
    for (int round = 0; round < 5; ++round) {
#pragma omp barrier
      const auto t0 = std::chrono::steady_clock::now();
      for (int pass = 0; pass < kPasses; ++pass) {
        const int first = (pass * READ) % (footprint - READ + 1);
        float* m[READ];
        for (int q = 0; q < READ; ++q) m[q] = buf.data() + (first + q) * kMatrix;
        for (long i = 0; i < kRows; ++i) {
#pragma omp simd reduction(+ : sink)
          for (long j = 0; j < kLd; ++j) {
            float s = 0;
#pragma GCC unroll 16
            for (int q = 0; q < READ; ++q) s += m[q][i * kLd + j];
#pragma GCC unroll 16
            for (int q = 0; q < WRITE; ++q) m[q][i * kLd + j] = m[q][i * kLd + j] * 0.999f + s * 1e-3f;
            sink += s;
          }
        }
      }
#pragma omp barrier
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#pragma omp critical
      if (seconds < best) best = seconds;
    }
    if (sink == 1234.5f) std::printf(" ");  // keeps the sums live
  }
  const double bytes = double(kPasses) * (READ + WRITE) * kMatrix * sizeof(float);
  std::printf("  \"%s\": {\"read\": %d, \"write\": %d, \"footprint_matrices\": %d, \"us_per_pass\": %.3f, "
              "\"gb_per_s_per_thread\": %.2f}%s\n",
              name, READ, WRITE, footprint, best / kPasses * 1e6, bytes / best / 1e9, last ? "" : ",");
}

int main() {
  std::printf("{\n");
  // The acting step's pass over one row: w, alpha, H, E read, H and E written; a thread holds 15 rows' traces.
  pattern<4, 2>("acting", 32, false);
  // The backward's sweep: the gradient traces, d_alpha, w, alpha and three of the segment's traces read, the
  // first three written; a thread holds those five matrices and its segment's 22 traces.
  pattern<8, 3>("sweep", 27, false);
  // The backward's recompute: a step's two traces read, the next step's two written.
  pattern<2, 2>("recompute", 27, true);
  std::printf("}\n");
}
