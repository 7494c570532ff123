-- wrk script of bench/api_earn.py: POST /api/v1/purchases/ with a new Idempotency-Key and
-- external_id each time, each wrk thread for its own slice of the members, so concurrent
-- requests are for distinct members. Arguments (after --): members file, run id, API key (or
-- several, comma-separated: each request takes the next, as tills each with their own key),
-- number of wrk threads.
-- done() prints one JSON line for api_earn.py to read.
-- WRK_PACE_MS in the environment (bench/million.py --rate) makes each connection wait that many
-- milliseconds before each request: a steady load below the server's capacity.

local pace = tonumber(os.getenv("WRK_PACE_MS") or "")
if pace then
  function delay()
    return pace
  end
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  members = {}
  local index = 0
  local count = tonumber(args[4])
  for line in io.lines(args[1]) do
    if index % count == id then
      table.insert(members, line)
    end
    index = index + 1
  end
  run = args[2]
  keys = {}
  for each in string.gmatch(args[3], "[^,]+") do
    table.insert(keys, each)
  end
  sent = 0
  other = 0
  sample = ""
end

function request()
  sent = sent + 1
  local ident = run .. "-" .. id .. "-" .. sent
  local body = '{"member_number": "' .. members[(sent % #members) + 1] .. '", "external_id": "'
    .. ident .. '", "amount": "12.34", "currency": "EUR"}'
  return wrk.format("POST", "/api/v1/purchases/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Api-Key " .. keys[(sent % #keys) + 1],
    ["Idempotency-Key"] = ident,
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    other = other + 1
    if sample == "" then
      sample = status .. ": " .. string.sub(body or "", 1, 300)
    end
  end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local other_total = 0
  local samples = {}
  for _, thread in ipairs(threads) do
    other_total = other_total + thread:get("other")
    local sample = thread:get("sample")
    if sample ~= "" then
      table.insert(samples, json_string(sample))
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"non201": %d, "socket_errors": %d, "samples": [%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, other_total, errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(samples, ", ")))
end
