// Micro-benchmarks per kernel (issue 4): hash insert/probe at cardinalities
// that fit in L2 (1e4 keys), L3 (1e6) and only DRAM (1e7) on the 2 MiB L2 /
// 32 MiB L3 EPYC VM; radix sort (1 and all threads); sum/max by group;
// gather at random keys; filter and expression evaluation through the
// public API; RowSet union/intersect/shift. Counters: items (rows or
// lookups) per second and bytes of input per second.
//   build/bench/tide_bench --benchmark_out=bench.json --benchmark_out_format=json
// (scripts/bench runs them all and writes the JSON.)
// SPDX-License-Identifier: Apache-2.0
#include <benchmark/benchmark.h>

#include <map>
#include <vector>

#include "kernels_shim.h"
#include "tide/tide.h"

namespace {

constexpr uint64_t kN = 1u << 23;  // 8M rows per pass

// One context per cardinality, built on first use and kept.
bk_ctx *ctx(uint64_t card) {
  static std::map<uint64_t, bk_ctx *> m;
  auto it = m.find(card);
  if (it != m.end()) return it->second;
  return m[card] = bk_setup(kN, card);
}

void counters(benchmark::State &st, uint64_t bytes_per_item) {
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kN));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kN * bytes_per_item));
}

void BM_HashInsert(benchmark::State &st) {
  bk_ctx *c = ctx(static_cast<uint64_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(bk_hash_insert(c));
  counters(st, 8);
}
void BM_HashProbe(benchmark::State &st) {
  bk_ctx *c = ctx(static_cast<uint64_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(bk_hash_probe(c));
  counters(st, 8);
}
void BM_RadixSortPairs(benchmark::State &st) {
  bk_ctx *c = ctx(1000000);
  int threads = static_cast<int>(st.range(0));
  if (threads == 0) threads = tide_get_threads();
  for (auto _ : st) benchmark::DoNotOptimize(bk_radix_sort(c, threads));
  counters(st, 16);
}
void BM_SumByGroup(benchmark::State &st) {
  bk_ctx *c = ctx(static_cast<uint64_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(bk_sum_by(c));
  counters(st, 12);
}
void BM_MaxByGroup(benchmark::State &st) {
  bk_ctx *c = ctx(static_cast<uint64_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(bk_max_by(c));
  counters(st, 12);
}
void BM_GatherRandom(benchmark::State &st) {
  bk_ctx *c = ctx(1000000);
  for (auto _ : st) benchmark::DoNotOptimize(bk_gather(c));
  counters(st, 16);
}

// Public-API kernels over a table of kN rows (X double, V int64).
tide_table_t *table() {
  static tide_table_t *t = nullptr;
  if (t) return t;
  tide_error err;
  tide_source_t *cols[2] = {tide_source_flat_create(TIDE_F64, kN, &err),
                            tide_source_flat_create(TIDE_I64, kN, &err)};
  auto *x = static_cast<double *>(tide_source_flat_data(cols[0]));
  auto *v = static_cast<int64_t *>(tide_source_flat_data(cols[1]));
  uint64_t s = 7;
  for (uint64_t i = 0; i < kN; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = static_cast<double>(s >> 40) / static_cast<double>(1u << 24) * 100.0;
    v[i] = static_cast<int64_t>((s >> 20) % 15 + 1);
  }
  const char *names[] = {"X", "V"};
  tide_rowset_t *rs = tide_rowset_create_range(0, kN - 1);
  t = tide_table_create(rs, 2, names, cols, &err);
  tide_rowset_free(rs);
  tide_source_release(cols[0]);
  tide_source_release(cols[1]);
  return t;
}
void BM_Filter(benchmark::State &st) {
  tide_table_t *t = table();
  tide_error err;
  for (auto _ : st) {
    tide_table_t *r = tide_where(t, "X > 50.0", &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  counters(st, 8);
}
void BM_ExprSelect(benchmark::State &st) {
  tide_table_t *t = table();
  tide_error err;
  const char *f[] = {"Y = X * 2.5 + V - 1"};
  for (auto _ : st) {
    tide_table_t *r = tide_select(t, f, 1, &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  counters(st, 16);
}

// RowSets: two sparse sets of kN / 8 keys each in [0, kN) and a shift.
std::vector<tide_rowset_t *> &sets() {
  static std::vector<tide_rowset_t *> v;
  if (!v.empty()) return v;
  for (uint64_t seed : {11ULL, 13ULL}) {
    std::vector<uint64_t> k(kN / 8);
    uint64_t s = seed;
    for (auto &x : k) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      x = (s >> 20) % kN;
    }
    v.push_back(tide_rowset_from_keys(k.data(), k.size()));
  }
  return v;
}
void BM_RowSetUnionSparse(benchmark::State &st) {
  auto &v = sets();
  for (auto _ : st) {
    tide_rowset_t *r = tide_rowset_union(v[0], v[1]);
    benchmark::DoNotOptimize(r);
    tide_rowset_free(r);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * (kN / 4)));
}
void BM_RowSetIntersectSparse(benchmark::State &st) {
  auto &v = sets();
  for (auto _ : st) {
    tide_rowset_t *r = tide_rowset_intersect(v[0], v[1]);
    benchmark::DoNotOptimize(r);
    tide_rowset_free(r);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * (kN / 4)));
}
void BM_RowSetShiftSparse(benchmark::State &st) {
  auto &v = sets();
  tide_shift_t sh = {kN / 2, kN - 1, static_cast<int64_t>(kN)};  // move the upper half up
  for (auto _ : st) {
    tide_rowset_t *r = tide_rowset_copy(v[0]);
    tide_rowset_shift(r, &sh, 1);
    benchmark::DoNotOptimize(r);
    tide_rowset_free(r);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * (kN / 8)));
}

}  // namespace

#define CARDS Arg(10000)->Arg(1000000)->Arg(10000000)
BENCHMARK(BM_HashInsert)->CARDS->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_HashProbe)->CARDS->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RadixSortPairs)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SumByGroup)->Arg(100)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MaxByGroup)->Arg(100)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GatherRandom)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Filter)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ExprSelect)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RowSetUnionSparse)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RowSetIntersectSparse)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RowSetShiftSparse)->Unit(benchmark::kMillisecond)->UseRealTime();
