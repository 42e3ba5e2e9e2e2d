-- wrk script: POST Alertmanager webhook (v4) bodies with fingerprints that never repeat.
--
-- Usage: wrk ... -s bench/alertmanager_load.lua URL -- BATCH TOKEN RUN_ID [FORMAT]
--   BATCH   alerts per request (default 1)
--   TOKEN   webhook token sent as `Authorization: Bearer` (default "bench"); "-" sends no
--           Authorization header (Alerta with AUTH_REQUIRED off answers 401 to a bearer token
--           that is not its own JWT)
--   RUN_ID  prefix that keeps fingerprints unique across runs on one database (default "run")
--   FORMAT  "webhook" (default): an Alertmanager webhook (v4) body, for skillpager's
--           /webhooks/alertmanager and Alerta's /webhooks/prometheus (endsAt is Go's zero
--           time, as Alertmanager sends for a firing alert; Alerta refuses an alert without
--           it); "am-v2": a JSON list of postable alerts, for Alertmanager's own
--           POST /api/v2/alerts (same labels and annotations, no fingerprint field: the
--           unique `instance` label makes every alert a new one there too)
-- A fingerprint is RUN_ID-<thread>-<request>-<alert>: thread ids are handed out in setup(), the
-- request counter is per thread, so no two alerts of a run share a fingerprint.
-- done() prints one line "BENCH_JSON {...}" with counts and latency percentiles (microseconds).

local threads = {}
local next_thread_id = 0

function setup(thread)
   thread:set("id", next_thread_id)
   next_thread_id = next_thread_id + 1
   table.insert(threads, thread)
end

local batch, run_id, thread_key, format
-- Globals, not locals: done() reads them per thread with thread:get().
sent, ok = 0, 0
local starts_at = os.date("!%Y-%m-%dT%H:%M:%SZ")

function init(args)
   batch = tonumber(args[1]) or 1
   local token = args[2] or "bench"
   run_id = args[3] or "run"
   format = args[4] or "webhook"
   if format ~= "webhook" and format ~= "am-v2" then
      error("FORMAT must be webhook or am-v2, not " .. format)
   end
   thread_key = run_id .. "-" .. tostring(id)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if token ~= "-" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
end

local alert_format = '{"status":"firing","labels":{"alertname":"BenchLoad","instance":"%s",'
   .. '"severity":"warning"},"annotations":{"summary":"bench alert %s"},'
   .. '"startsAt":"' .. starts_at .. '","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}'

-- Alertmanager's postable alert: firing for an hour from now, so none resolves during a run.
local postable_format = '{"labels":{"alertname":"BenchLoad","instance":"%s","severity":"warning"},'
   .. '"annotations":{"summary":"bench alert %s"},"startsAt":"' .. starts_at .. '",'
   .. '"endsAt":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600) .. '",'
   .. '"generatorURL":"http://127.0.0.1/bench"}'

function request()
   sent = sent + 1
   local alerts = {}
   for i = 1, batch do
      local fingerprint = string.format("%s-%d-%d", thread_key, sent, i)
      if format == "am-v2" then
         alerts[i] = string.format(postable_format, fingerprint, fingerprint)
      else
         alerts[i] = string.format(alert_format, fingerprint, fingerprint, fingerprint)
      end
   end
   local body
   if format == "am-v2" then
      body = "[" .. table.concat(alerts, ",") .. "]"
   else
      body = '{"version":"4","status":"firing","receiver":"skillpager",'
         .. '"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"alerts":['
         .. table.concat(alerts, ",") .. "]}"
   end
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   end
end

function done(summary, latency, requests)
   local total_ok, total_sent = 0, 0
   for _, thread in ipairs(threads) do
      total_ok = total_ok + thread:get("ok")
      total_sent = total_sent + thread:get("sent")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us":%d,"requests":%d,"ok":%d,"sent":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
      summary.duration, summary.requests, total_ok, total_sent,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max))
end
