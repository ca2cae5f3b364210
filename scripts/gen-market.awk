# Deterministic synthetic market data for the demo: trades and quotes for
# 20 symbols that share one price path per symbol (so quotes bracket
# trades). About one third of the events are trades, two thirds quotes.
#
# Batch mode: one trading day (09:30 to 16:00) written to the CSV files
# `trades` and `quotes`:
#   gawk -v rows=1000000 -v seed=42 -v date=2026-11-20 -v trades=T.csv -v quotes=Q.csv \
#        -f scripts/gen-market.awk
#
# Stream mode (stream=1): `trades` and `quotes` are shell commands (e.g.
# `tide ingest ... --csv -`) that receive a header and then `rate` events
# per second in 10 ticks a second, timestamps of `date` from 09:30
# advancing one market minute per real second. It stops when the file
# `stop` exists or after `seconds`, closes both pipes (so the ingesters
# commit their last rows and exit) and exits 1 if either command failed.
#   gawk -v stream=1 -v rate=2000 -v seconds=120 -v stop=STOPFILE -v seed=7 \
#        -v date=2026-11-22 -v trades='tide ingest ... --table trades --csv -' \
#        -v quotes='tide ingest ... --table quotes --csv -' -f scripts/gen-market.awk
# SPDX-License-Identifier: Apache-2.0

function out_trade(line) {
  if (stream) print line | trades
  else print line > trades
  ntrades++
}

function out_quote(line) {
  if (stream) print line | quotes
  else print line > quotes
  nquotes++
}

# Event i at time of day t (seconds from midnight).
function event(t,    s, sec, us, ts, size, side) {
  s = 1 + int(rand() * rand() * nsym)   # skewed: low symbols trade more
  sec = int(t); us = int((t - sec) * 1000000)
  ts = sprintf("%sT%02d:%02d:%02d.%06dZ", date, int(sec / 3600), int(sec / 60) % 60, sec % 60, us)
  if (rand() < 0.6667) {
    px[s] *= 1 + (rand() - 0.5) * 0.0004
    spread[s] = 0.01 * (1 + int(rand() * 5))
    out_quote(sprintf("%s,%s,%.2f,%.2f,%d,%d", ts, syms[s], px[s] - spread[s] / 2, px[s] + spread[s] / 2, \
      100 * (1 + int(rand() * 20)), 100 * (1 + int(rand() * 20))))
  } else {
    size = 100 * (1 + int(rand() * 10))
    if (rand() < 0.05) size = 1 + int(rand() * 99)
    side = rand() < 0.5 ? -1 : 1
    out_trade(sprintf("%s,%s,%.2f,%d,%s", ts, syms[s], px[s] + side * spread[s] / 2, size, exch[1 + int(rand() * 5)]))
  }
}

BEGIN {
  split("AAPL MSFT GOOG AMZN META NVDA TSLA JPM V JNJ WMT PG MA HD XOM BAC KO PEP CSCO ORCL", syms, " ")
  nsym = 20
  split("NYSE NASDAQ ARCA BATS IEX", exch, " ")
  srand(seed)
  for (s = 1; s <= nsym; s++) { px[s] = 50 + 10 * s; spread[s] = 0.01 }
  out_trade("Timestamp,Sym,Price,Size,Exchange")
  out_quote("Timestamp,Sym,Bid,Ask,BidSize,AskSize")
  if (!stream) {
    events = 3 * rows
    for (i = 0; i < events; i++)
      # 09:30:00 to 16:00:00 (23400 s), strictly increasing.
      event(34200 + 23400.0 * (i + 0.999 * rand()) / events)
    exit 0
  }
  # stream: rate events per real second, 10 ticks a second; one market
  # minute per real second
  if (rate < 10) rate = 10
  per_tick = int(rate / 10)
  dt = 60.0 / rate
  i = 0
  ticks = 0
  for (tick = 0; tick < seconds * 10; tick++) {
    ticks++
    for (k = 0; k < per_tick; k++) {
      event(34200 + dt * (i + 0.999 * rand()))
      i++
    }
    # system() flushes both pipes first; the shell sleeps and checks stop
    if (system("sleep 0.1; test ! -e '" stop "'") != 0) break
  }
  rt = close(trades)
  rq = close(quotes)
  printf "gen-market: streamed %d trades and %d quotes in %.1f s\n", ntrades - 1, nquotes - 1, \
    ticks / 10 > "/dev/stderr"
  exit (rt != 0 || rq != 0) ? 1 : 0
}
