-- remedy schema v8: executions counted by state without reading rows.
--
-- GET /metrics reports every execution state on each scrape: GROUP BY state over this index is
-- index-only and needs no sort (without it the count reads a wider index and sorts).
CREATE INDEX remediation_executions_state ON remediation_executions (state);
