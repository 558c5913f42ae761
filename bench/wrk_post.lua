-- wrk script for bench/responder.py: posts pre-signed Zoom webhooks.
--
-- Signing in Lua (HMAC-SHA256) is not worth it: bench/responder.py writes
-- one request per line to the file named after "--":
--     <x-zm-request-timestamp> <x-zm-signature> <compact JSON body>
-- The first line is a filler (an endpoint.url_validation, which spools
-- nothing), sent only by a thread that has run out of events while wrk
-- stops it. Of the others each wrk thread takes every T-th line (T
-- threads), so no event is sent
-- twice in a run; a thread that has sent all of its lines stops (with
-- "cycle" after the file name: starts over; for the hello ceiling). done()
-- prints one line "WRK_RESULT {json}" that the driver parses.

local threads = {}
local counter = 0

function setup(thread)
	thread:set("id", counter)
	table.insert(threads, thread)
	counter = counter + 1
end

function init(args)
	local path = args[1]
	local nthreads = tonumber(args[2])
	local path_url = args[3]
	cycle = args[4] == "cycle"
	reqs = {}
	local i = 0
	for line in io.lines(path) do
		if i == 0 or (i - 1) % nthreads == id then
			local ts, sig, body = line:match("^(%d+) (%S+) (.*)$")
			local r = wrk.format("POST", path_url, {
				["Content-Type"] = "application/json; charset=utf-8",
				["User-Agent"] = "Zoom Marketplace/1.0a",
				["x-zm-request-timestamp"] = ts,
				["x-zm-signature"] = sig,
			}, body)
			if i == 0 then
				filler = r
			else
				reqs[#reqs + 1] = r
			end
		end
		i = i + 1
	end
	nextreq = 1
	sent = 0
	exhausted = false
end

function request()
	if exhausted then
		-- wrk may ask again before the stop takes effect.
		return filler
	end
	local r = reqs[nextreq]
	nextreq = nextreq + 1
	if nextreq > #reqs then
		-- The last of this thread's events: stop rather than send one
		-- twice (the ceiling, which spools nothing, starts over instead).
		nextreq = 1
		if not cycle then
			exhausted = true
			wrk.thread:stop()
		end
	end
	sent = sent + 1
	return r
end

function done(summary, latency, requests)
	local sent_total = 0
	for _, t in ipairs(threads) do
		sent_total = sent_total + (t:get("sent") or 0)
	end
	io.write(string.format(
		'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
		'"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
		'"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
		'"sent":%d}\n',
		summary.requests, summary.duration, summary.bytes,
		summary.errors.connect, summary.errors.read, summary.errors.write,
		summary.errors.status, summary.errors.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency.max, latency.mean, sent_total))
end
