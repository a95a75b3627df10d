-- wrk script: POST a realistic chat-completions body with an API key.
-- Environment: BENCH_BODY_FILE (the JSON body), BENCH_KEY (API key, may be
-- empty), BENCH_DELAY_MS (think time per request: approximates a fixed
-- offered load as connections * 1000 / (delay + latency) requests/s),
-- BENCH_OUT (file the done() summary is written to as JSON).
local body_file = os.getenv("BENCH_BODY_FILE")
local key = os.getenv("BENCH_KEY") or ""
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local out = os.getenv("BENCH_OUT")

local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({50, 75, 90, 99, 99.9}) do
    p[#p + 1] = string.format('"%s":%d', tostring(q), latency:percentile(q))
  end
  local s = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,"p":{%s}}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev, table.concat(p, ","))
  if out and out ~= "" then
    local o = assert(io.open(out, "w"))
    o:write(s, "\n")
    o:close()
  else
    io.write(s, "\n")
  end
end
