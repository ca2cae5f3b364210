# Deterministic synthetic market data for the demo: one trading day of
# trades and quotes for 20 symbols that share one price path per symbol
# (so quotes bracket trades). Writes CSV files `trades` and `quotes`.
#   gawk -v rows=1000000 -v seed=42 -v date=2026-11-20 -v trades=T.csv -v quotes=Q.csv \
#        -f scripts/gen-market.awk
# About one third of the events are trades, two thirds quotes.
# SPDX-License-Identifier: Apache-2.0
BEGIN {
  split("AAPL MSFT GOOG AMZN META NVDA TSLA JPM V JNJ WMT PG MA HD XOM BAC KO PEP CSCO ORCL", syms, " ")
  nsym = 20
  split("NYSE NASDAQ ARCA BATS IEX", exch, " ")
  srand(seed)
  for (s = 1; s <= nsym; s++) { px[s] = 50 + 10 * s; spread[s] = 0.01 }
  print "Timestamp,Sym,Price,Size,Exchange" > trades
  print "Timestamp,Sym,Bid,Ask,BidSize,AskSize" > quotes
  events = 3 * rows
  for (i = 0; i < events; i++) {
    # 09:30:00 to 16:00:00 (23400 s), strictly increasing.
    t = 34200 + 23400.0 * (i + 0.999 * rand()) / events
    s = 1 + int(rand() * rand() * nsym)   # skewed: low symbols trade more
    sec = int(t); us = int((t - sec) * 1000000)
    ts = sprintf("%sT%02d:%02d:%02d.%06dZ", date, int(sec / 3600), int(sec / 60) % 60, sec % 60, us)
    if (rand() < 0.6667) {
      px[s] *= 1 + (rand() - 0.5) * 0.0004
      spread[s] = 0.01 * (1 + int(rand() * 5))
      printf "%s,%s,%.2f,%.2f,%d,%d\n", ts, syms[s], px[s] - spread[s] / 2, px[s] + spread[s] / 2, \
        100 * (1 + int(rand() * 20)), 100 * (1 + int(rand() * 20)) > quotes
    } else {
      size = 100 * (1 + int(rand() * 10))
      if (rand() < 0.05) size = 1 + int(rand() * 99)
      side = rand() < 0.5 ? -1 : 1
      printf "%s,%s,%.2f,%d,%s\n", ts, syms[s], px[s] + side * spread[s] / 2, size, exch[1 + int(rand() * 5)] > trades
    }
  }
}
