-- wrk script of the HTTP benchmark (bench/http_bench.py): the method, the JSON body and the
-- API token come from the environment, so one script drives every endpoint; at the end it
-- prints one line of JSON that the benchmark reads (latencies in microseconds).
--
--   WRK_METHOD=POST WRK_BODY_FILE=body.json WRK_TOKEN=<key> \
--     wrk -t1 -c4 -d10s -s bench/wrk/hostfactory.lua http://127.0.0.1:8000/api/v1/hostfactory/getRequestStatus

wrk.method = os.getenv("WRK_METHOD") or "GET"

local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
  local file = assert(io.open(body_file, "r"))
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
end

local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Token " .. token
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "status_errors": %d, "socket_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    errors.status, errors.connect + errors.read + errors.write, errors.timeout))
end
