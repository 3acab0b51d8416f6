-- wrk script: each request asks the next path of the file named by the
-- BENCH_PATHS environment variable (one path per line, cycled), with the
-- headers given to wrk on its command line; at the end it prints the JSON
-- line of report.lua. wrk runs from the repository root. Thread t of n
-- (n from BENCH_THREADS) starts at the t/n-th path, so the threads do not
-- ask the same page at the same moment.
dofile("bench/wrk/report.lua")

local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local paths = {}
local i = 0

init = function(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("BENCH_PATHS lists no paths") end
  i = math.floor((id or 0) * #paths / math.max(tonumber(os.getenv("BENCH_THREADS") or "1") or 1, 1))
end

request = function()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
