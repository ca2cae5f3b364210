# Deterministic synthetic market data for the demo: trades or quotes for
# NSYM symbols over one trading day, as CSV on stdout.
#   awk -v kind=trades -v rows=1000000 -v seed=42 -v date=2026-11-20 -f scripts/gen-market.awk
# SPDX-License-Identifier: Apache-2.0
BEGIN {
  split("AAPL MSFT GOOG AMZN META NVDA TSLA JPM V JNJ WMT PG MA HD XOM BAC KO PEP CSCO ORCL", syms, " ")
  nsym = 20
  split("NYSE NASDAQ ARCA BATS IEX", exch, " ")
  srand(seed + (kind == "quotes" ? 7 : 0))
  for (s = 1; s <= nsym; s++) px[s] = 50 + 10 * s
  # 09:30:00 to 16:00:00 is 23400 seconds.
  step = 23400.0 / rows
  if (kind == "trades") print "Timestamp,Sym,Price,Size,Exchange"
  else print "Timestamp,Sym,Bid,Ask,BidSize,AskSize"
  t = 34200.0
  for (i = 0; i < rows; i++) {
    t += step * (0.5 + rand())
    if (t >= 57600) t = 57599.999999
    s = 1 + int(rand() * rand() * nsym)   # skewed: low symbols trade more
    px[s] *= 1 + (rand() - 0.5) * 0.001
    sec = int(t); us = int((t - sec) * 1000000)
    ts = sprintf("%sT%02d:%02d:%02d.%06dZ", date, int(sec / 3600), int(sec / 60) % 60, sec % 60, us)
    if (kind == "trades") {
      size = 100 * (1 + int(rand() * 10))
      if (rand() < 0.05) size = 1 + int(rand() * 99)
      printf "%s,%s,%.2f,%d,%s\n", ts, syms[s], px[s], size, exch[1 + int(rand() * 5)]
    } else {
      spread = 0.01 * (1 + int(rand() * 5))
      printf "%s,%s,%.2f,%.2f,%d,%d\n", ts, syms[s], px[s] - spread / 2, px[s] + spread / 2, 100 * (1 + int(rand() * 20)), 100 * (1 + int(rand() * 20))
    }
  }
}
