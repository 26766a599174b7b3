-- wrk script: POST /predict for user ids read from the file named by the
-- USERS environment variable (a users.csv or one id per line), round robin.
local ids = {}
local path = os.getenv("USERS")
if path then
  for line in io.lines(path) do
    local id = line:match("^([^,]+)")
    if id and id ~= "user_id" then ids[#ids + 1] = id end
  end
end
if #ids == 0 then ids = {"7590-VHVEG"} end

local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"user_id":"' .. ids[(n % #ids) + 1] .. '"}')
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d in %.2fs: %.0f req/s, errors: status %d, connect %d, read %d, timeout %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%g %.3f ms\n", p, latency:percentile(p) / 1000))
  end
end
