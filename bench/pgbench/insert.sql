-- pgbench's yardstick for issue #15: one single-row INSERT per transaction (autocommit).
INSERT INTO pgbench_rows (payload) VALUES ('x');
