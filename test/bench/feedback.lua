-- wrk script of the living-data bench: POST /feedback with $BENCH_EVENTS events a request
-- (1: one event object; more: {"events": [...]}), every event a (user, movie, time) of its
-- own, so that each is a new row; Bearer $LENSFLOW_FEEDBACK_TOKEN. done() prints one JSON
-- line like wrk.lua's.
local n = tonumber(os.getenv("BENCH_EVENTS") or "1")
local token = os.getenv("LENSFLOW_FEEDBACK_TOKEN") or ""
local counter = 0


function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
end

function init(args)
	seq = 0
end

function request()
	seq = seq + 1
	local user = 1000000 + tid * 100000 + (seq % 100000)
	local ts = 1600000000 + seq
	local parts = {}
	for i = 1, n do
		parts[i] = string.format('{"user_id":%d,"movie_id":%d,"rating":%s,"timestamp":%d}',
			user, (i % 1682) + 1, (i % 2 == 0) and "4" or "3.5", ts)
	end
	local body
	if n == 1 then
		body = parts[1]
	else
		body = '{"events":[' .. table.concat(parts, ",") .. ']}'
	end
	return wrk.format("POST", "/feedback", {["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. token}, body)
end

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	io.write(string.format('{"requests": %d, "duration_s": %.3f, "rps": %.1f, "errors": %d, '
		.. '"non2xx": %d, "p50_ms": %.4f, "p99_ms": %.4f}\n',
		summary.requests, s, summary.requests / s,
		summary.errors.connect + summary.errors.read + summary.errors.write
			+ summary.errors.timeout, summary.errors.status,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
