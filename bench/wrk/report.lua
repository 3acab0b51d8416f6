-- wrk script: at the end of a run, print one JSON line with the figures the
-- report needs, tagged with the BENCH_SERVER and BENCH_SCENARIO environment
-- variables. Latencies are in microseconds.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"server":"%s","scenario":"%s","duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    os.getenv("BENCH_SERVER") or "", os.getenv("BENCH_SCENARIO") or "",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
