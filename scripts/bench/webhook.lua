-- wrk script for manage.py bench_web's webhook target: POSTs pre-signed Wix webhooks, one
-- distinct body per request (a repeated body would only measure the duplicate path).
-- Arguments: <bodies file, one signed JWT per line> <first line to use, 0-based> <threads>.
-- Thread t of T sends lines first+t, first+t+T, ...; if it runs past the end it starts over
-- (those requests are duplicates) and done() reports how many times that happened.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  local first = tonumber(args[2] or "0")
  step = tonumber(args[3] or "1")
  index = first + thread_id + 1
  wrapped = 0
  headers = { ["Content-Type"] = "text/plain" }
end

function request()
  if index > #bodies then
    wrapped = wrapped + 1
    index = (index - 1) % #bodies + 1
  end
  local body = bodies[index]
  index = index + step
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%.0f p95_us=%.0f p99_us=%.0f max_us=%.0f "
      .. "connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeouts=%d "
      .. "wrapped=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, wraps))
end
