-- wrk script: POST /predict for user ids read from the file named by the
-- USERS environment variable (a users.csv or one id per line), round robin.
--
-- The requests are rendered once, in init: building each one in request()
-- with wrk.format costs wrk about a quarter of its CPU, which on a shared
-- 2-core machine is taken from the server being measured.
local reqs = {}
local n = 0

init = function(args)
  local ids = {}
  local path = os.getenv("USERS")
  if path then
    for line in io.lines(path) do
      local id = line:match("^([^,]+)")
      if id and id ~= "user_id" then ids[#ids + 1] = id end
    end
  end
  if #ids == 0 then ids = {"7590-VHVEG"} end
  local headers = {["Content-Type"] = "application/json"}
  for i, id in ipairs(ids) do
    reqs[i] = wrk.format("POST", nil, headers, '{"user_id":"' .. id .. '"}')
  end
end

request = function()
  n = n + 1
  if n > #reqs then n = 1 end
  return reqs[n]
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d in %.2fs: %.0f req/s, errors: status %d, connect %d, read %d, timeout %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%g %.3f ms\n", p, latency:percentile(p) / 1000))
  end
end
