# Plot of one scripts/perf suite: a clustered bar chart of the columns of
# DATAFILE (first row: names; first column: the question).
#   gnuplot -e "suite='groupby'; datafile='perf/out/groupby.dat'; \
#               outfile='perf/out/groupby.png'; ncols=4; ylabel='seconds'" perf/plot.gp
# SPDX-License-Identifier: Apache-2.0
if (!exists("ylabel") || ylabel eq "") ylabel = "seconds (best run)"
set terminal pngcairo size 1100,600 noenhanced font ",10"
set output outfile
set title sprintf("tide perf: %s", suite)
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set ylabel ylabel
set xtics rotate by -30
if (suite eq "groupby" || suite eq "join") set logscale y
set yrange [0:*]
if (suite eq "groupby" || suite eq "join") set yrange [*:*]
plot for [i=2:ncols] datafile using i:xtic(1) title columnheader(i)
