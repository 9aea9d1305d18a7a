-- wrk script for manage.py bench_web's webhook steps and fixed-rate steps.
-- Arguments: <rate: requests per second, all threads together; 0 = as fast as answered>
--            <threads> [bodies file].
--
-- Bodies: with a file of pre-signed Wix webhooks (one per line) each request POSTs a distinct
-- one (a repeated body would only measure the duplicate path): thread t of T sends lines t+1,
-- t+1+T, ...; past the end it starts over (those are duplicates) and done() reports how many
-- times that happened ("wrapped"). Without a file it sends the request on wrk's command line.
--
-- Rate: Wix delivers webhooks at its own pace, so webhook_200 (and its floor) send at a fixed
-- rate. Each thread keeps a schedule of send times, one every 1000*T/rate ms, and wrk's
-- delay() holds a connection until its slot (LuaJIT's ffi reads CLOCK_MONOTONIC); a slot
-- whose time has passed (every connection was busy) is sent at once. Latency runs from send
-- to answer. wrk opens a connection's next TCP connection as soon as an answer has come and
-- holds it until the slot: a sync gunicorn worker that accepts it waits for the request, so
-- bench_web uses one thread (slots in the order the connections were opened) and few
-- connections. wrk adds the requests a connection could not send while it waited for an
-- answer ("coordinated omission" correction) for answers slower than two slots of one
-- connection.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function delay()
  local now = now_ms()
  if next_slot == nil then
    -- The threads' schedules interleave.
    next_slot = now + interval_ms * thread_id / step
  end
  local slot = next_slot
  next_slot = next_slot + interval_ms
  if slot <= now then
    return 0
  end
  return math.floor(slot - now + 0.5)
end

function init(args)
  local rate = tonumber(args[1] or "0")
  step = tonumber(args[2] or "1")
  if not rate or rate < 0 then
    error("load.lua: the first argument is the rate per second (0 = as fast as answered)")
  end
  if rate == 0 then
    delay = nil -- wrk paces only when the script defines delay()
  else
    interval_ms = 1000 * step / rate
  end
  wrapped = 0
  if args[3] and #args[3] > 0 then
    bodies = {}
    for line in io.lines(args[3]) do
      if #line > 0 then bodies[#bodies + 1] = line end
    end
    index = thread_id + 1
    headers = { ["Content-Type"] = "text/plain" }
  end
end

function request()
  if bodies == nil then
    return wrk.request()
  end
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
