-- wrk script of the bench: GET $BENCH_PATH with "{id}" replaced by a random
-- integer in 1..$BENCH_IDS; done() prints one JSON line (latencies in ms).
local path = os.getenv("BENCH_PATH") or "/healthz"
local ids = tonumber(os.getenv("BENCH_IDS") or "0")
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("seed", counter)
end

function init(args)
	math.randomseed(seed * 7919 + os.time())
end

function request()
	local p = path
	if ids > 0 then
		p = path:gsub("{id}", tostring(math.random(1, ids)))
	end
	return wrk.format("GET", p)
end

function done(summary, latency, requests)
	local e = summary.errors
	local s = summary.duration / 1e6
	io.write(string.format('{"requests": %d, "duration_s": %.3f, "rps": %.1f, '
		.. '"errors": %d, "non2xx": %d, "p50_ms": %.4f, "p90_ms": %.4f, '
		.. '"p99_ms": %.4f, "max_ms": %.4f, "mean_ms": %.4f}\n',
		summary.requests, s, summary.requests / s,
		e.connect + e.read + e.write + e.timeout, e.status,
		latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
		latency:percentile(99) / 1e3, latency.max / 1e3, latency.mean / 1e3))
end
