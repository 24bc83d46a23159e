-- clients/nmtd.lua: wrk script for heavier load on nmtd's POST /translate.
--   wrk -t2 -c64 -d30s -s clients/nmtd.lua http://127.0.0.1:8080/translate
-- Each request carries one sentence, taken in turn from clients/sentences.txt
-- (override with env SENTENCES=FILE); at the end it prints the count of
-- non-200 answers.  Loopback only by default, bounded by wrk's -d.

local sentences = {}
local path = os.getenv("SENTENCES") or "clients/sentences.txt"
for line in io.lines(path) do
    if line ~= "" then
        -- JSON string escaping for the characters a sentence may hold
        line = line:gsub('\\', '\\\\'):gsub('"', '\\"')
        sentences[#sentences + 1] = '{"text": "' .. line .. '"}'
    end
end

local counter = 0
local non200 = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, sentences[(counter % #sentences) + 1])
end

response = function(status, headers, body)
    if status ~= 200 then
        non200 = non200 + 1
    end
end

done = function(summary, latency, requests)
    io.write(string.format("non-200 answers (last thread): %d; errors: connect %d, read %d, write %d, status %d, timeout %d\n",
        non200, summary.errors.connect, summary.errors.read, summary.errors.write,
        summary.errors.status, summary.errors.timeout))
    io.write(string.format("latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
