-- wrk script for manage.py bench_web's webhook steps and fixed-rate steps.
-- Arguments: <rate: requests per second, all threads together; 0 = as fast as answered>
--            <threads> [bodies file] [connections (paced runs)].
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
-- connections.
--
-- Percentiles of a paced run are the latencies as measured. wrk corrects for coordinated
-- omission as if each connection sent its next request only after its answer: for an answer
-- slower than two intervals (runtime / requests per connection) it adds the requests that
-- connection "would have sent" meanwhile. Here the schedule is the thread's, not the
-- connection's: while one connection waits, the others take its slots, and nothing is
-- omitted unless every connection is busy. So done() takes those added samples out again (the
-- correction is deterministic) and reports instead how many slots were sent late, and how
-- late: "late" counts slots sent more than 10 ms after their time.
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
    if now - slot > 10 then
      late = late + 1
      late_max_ms = math.max(late_max_ms, now - slot)
    end
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
    paced = false
  else
    paced = true
    interval_ms = 1000 * step / rate
  end
  wrapped = 0
  late = 0
  late_max_ms = 0
  connections = tonumber(args[4] or "") or 0
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

-- The latency histogram before wrk's correction (wrk.c stats_correct): it added, for each
-- sample n >= 2*interval, one sample at n - k*interval for every k >= 1 while that is more
-- than the interval. Undone from the top down: orig(m) = corrected(m) - sum orig(m + k*interval).
local function uncorrected(latency, requests, duration_us, connections)
  local per_connection = math.floor(requests / connections)
  local values, counts = {}, {}
  for i = 1, #latency do
    local value, count = latency(i)
    values[#values + 1] = value
    counts[value] = count
  end
  if per_connection > 0 then
    local interval = math.floor(duration_us / per_connection)
    local top = values[#values] or 0
    for i = #values, 1, -1 do
      local m = values[i]
      if m > interval then
        local added = 0
        local n = m + interval
        while n <= top do
          added = added + (counts[n] or 0)
          n = n + interval
        end
        counts[m] = math.max(0, counts[m] - added)
      end
    end
  end
  local total = 0
  for _, value in ipairs(values) do total = total + counts[value] end
  local function percentile(p)
    local rank = math.floor(p / 100 * total + 0.5 + 0.5)
    local seen = 0
    for _, value in ipairs(values) do
      seen = seen + counts[value]
      if seen >= rank then return value end
    end
    return 0
  end
  local max = 0
  for _, value in ipairs(values) do
    if counts[value] > 0 then max = value end
  end
  return percentile(50), percentile(95), percentile(99), max
end

done = function(summary, latency, requests)
  local e = summary.errors
  local wraps, lates, late_max = 0, 0, 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
    lates = lates + (thread:get("late") or 0)
    late_max = math.max(late_max, thread:get("late_max_ms") or 0)
  end
  -- done() runs in wrk's main Lua state; what init() learnt lives in the threads' states.
  local first = threads[1]
  local conns = first and first:get("connections") or 0
  local p50, p95, p99, max
  if first and first:get("paced") and conns > 0 then
    p50, p95, p99, max = uncorrected(latency, summary.requests, summary.duration, conns)
  else
    p50, p95, p99 = latency:percentile(50), latency:percentile(95), latency:percentile(99)
    max = latency.max
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%.0f p95_us=%.0f p99_us=%.0f max_us=%.0f "
      .. "connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeouts=%d "
      .. "wrapped=%d late=%d late_max_us=%.0f\n",
    summary.requests, summary.duration, p50, p95, p99, max,
    e.connect, e.read, e.write, e.status, e.timeout, wraps, lates, late_max * 1000))
end
