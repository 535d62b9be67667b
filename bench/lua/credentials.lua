-- wrk script: every request presents one credential chosen at random from a file that
-- bench-server wrote (first line the header name, then one value a line), so the API-key
-- rows spread over all the stored keys. Every row uses this script, the static-token
-- rows with a file of one value, so wrk does the same work per request in every row.
--   KG_CREDS=/path/to/variant.creds wrk -s bench/lua/credentials.lua ...
local path = os.getenv("KG_CREDS") or error("set KG_CREDS to a credentials file")
local name
local values = {}
for line in io.lines(path) do
  if name == nil then name = line else values[#values + 1] = line end
end
local count = #values
local headers = {}

function init(args)
  math.randomseed(os.time())
end

function request()
  headers[name] = values[math.random(count)]
  return wrk.format("GET", "/", headers)
end
