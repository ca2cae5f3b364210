// Micro-benchmarks of the public API's hot paths over generated tables:
// RowSet algebra and iteration, filter, group-by sum (symbol and int keys),
// sort, hash join. Counters: rows/s (items) and bytes/s of input.
// SPDX-License-Identifier: Apache-2.0
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tide/tide.h"

namespace {

tide_table_t *make_table(uint64_t n, uint64_t groups) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> k(n), v(n);
  std::vector<double> x(n);
  std::vector<std::string> syms(100);
  for (int i = 0; i < 100; i++) syms[i] = "id" + std::to_string(i);
  tide_error err;
  tide_source_t *cols[4];
  cols[0] = tide_source_flat_create(TIDE_I64, n, &err);
  cols[1] = tide_source_flat_create(TIDE_I64, n, &err);
  cols[2] = tide_source_flat_create(TIDE_F64, n, &err);
  cols[3] = tide_source_flat_create(TIDE_SYMBOL, n, &err);
  auto *kd = static_cast<int64_t *>(tide_source_flat_data(cols[0]));
  auto *vd = static_cast<int64_t *>(tide_source_flat_data(cols[1]));
  auto *xd = static_cast<double *>(tide_source_flat_data(cols[2]));
  auto *sd = static_cast<int32_t *>(tide_source_flat_data(cols[3]));
  tide_symtab_t *st = tide_source_symtab(cols[3]);
  int32_t codes[100];
  for (int i = 0; i < 100; i++) codes[i] = tide_symtab_intern(st, syms[i].data(), syms[i].size());
  for (uint64_t i = 0; i < n; i++) {
    kd[i] = static_cast<int64_t>(rng() % groups);
    vd[i] = static_cast<int64_t>(rng() % 5 + 1);
    xd[i] = static_cast<double>(rng() % 1000000) / 10000.0;
    sd[i] = codes[rng() % 100];
  }
  const char *names[] = {"K", "V", "X", "S"};
  tide_rowset_t *rs = tide_rowset_create_range(0, n - 1);
  tide_table_t *t = tide_table_create(rs, 4, names, cols, &err);
  tide_rowset_free(rs);
  for (auto *c : cols) tide_source_release(c);
  return t;
}

constexpr uint64_t kRows = 1u << 22;

void BM_Where(benchmark::State &state) {
  tide_table_t *t = make_table(kRows, 1000);
  tide_error err;
  for (auto _ : state) {
    tide_table_t *r = tide_where(t, "X > 50.0", &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.SetBytesProcessed(state.iterations() * kRows * sizeof(double));
  tide_table_free(t);
}

void BM_SumBySymbol(benchmark::State &state) {
  tide_table_t *t = make_table(kRows, 1000);
  tide_error err;
  const char *cols[] = {"V"}, *by[] = {"S"};
  tide_agg_spec_t sum = {TIDE_AGG_SUM, cols, 1, 0, nullptr, false};
  for (auto _ : state) {
    tide_table_t *r = tide_agg_by(t, &sum, 1, by, 1, &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  tide_table_free(t);
}

void BM_SumByInt(benchmark::State &state) {
  tide_table_t *t = make_table(kRows, static_cast<uint64_t>(state.range(0)));
  tide_error err;
  const char *cols[] = {"V"}, *by[] = {"K"};
  tide_agg_spec_t sum = {TIDE_AGG_SUM, cols, 1, 0, nullptr, false};
  for (auto _ : state) {
    tide_table_t *r = tide_agg_by(t, &sum, 1, by, 1, &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  tide_table_free(t);
}

void BM_SortDouble(benchmark::State &state) {
  tide_table_t *t = make_table(kRows, 1000);
  tide_error err;
  const char *cols[] = {"X"};
  for (auto _ : state) {
    tide_table_t *r = tide_sort(t, cols, 1, &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  tide_table_free(t);
}

void BM_NaturalJoin(benchmark::State &state) {
  tide_table_t *left = make_table(kRows, 1u << 20);
  tide_table_t *right = make_table(1u << 16, 1u << 20);
  tide_error err;
  const char *by[] = {"K"};
  tide_table_t *rk = tide_select_distinct(right, by, 1, &err);
  const char *on[] = {"K"};
  for (auto _ : state) {
    tide_table_t *r = tide_natural_join(left, rk, on, 1, nullptr, 0, &err);
    benchmark::DoNotOptimize(r);
    tide_table_free(r);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  tide_table_free(rk);
  tide_table_free(right);
  tide_table_free(left);
}

void BM_RowSetUnion(benchmark::State &state) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> a(1u << 20), b(1u << 20);
  for (auto &k : a) k = rng() % (1ull << 26);
  for (auto &k : b) k = rng() % (1ull << 26);
  tide_rowset_t *ra = tide_rowset_from_keys(a.data(), a.size());
  tide_rowset_t *rb = tide_rowset_from_keys(b.data(), b.size());
  for (auto _ : state) {
    tide_rowset_t *u = tide_rowset_union(ra, rb);
    benchmark::DoNotOptimize(u);
    tide_rowset_free(u);
  }
  state.SetItemsProcessed(state.iterations() * (a.size() + b.size()));
  tide_rowset_free(ra);
  tide_rowset_free(rb);
}

}  // namespace

BENCHMARK(BM_Where)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SumBySymbol)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SumByInt)->Arg(1000)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SortDouble)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_NaturalJoin)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RowSetUnion)->Unit(benchmark::kMillisecond)->UseRealTime();
