-- What PostgreSQL does for one FileCase on the cases database, statement for statement as the service
-- sends them (read off `log_statement = all`), with nothing of kommune around it: PostgreSQL's own
-- ceiling for a filing on this machine. Run by `kommune-bench` against its cases database (`-M prepared`,
-- as sqlx prepares), with -D systems='{…}' (the systems filings are spread over), area, municipality
-- and reporter. Not here: identity's two reads for the eligibility check (another database).
\set n random(1, 8)
-- Before the transaction: the system and the area.
SELECT id AS system_id, name AS system_name, chain_responsibility, outage_report_threshold,
       outage_window_minutes, outage_distinct_reporters, version AS system_version
  FROM systems WHERE id = (:systems::text[])[:n] \gset
SELECT id, name, team_id, version FROM areas WHERE id = :area LIMIT 1;
BEGIN;
-- The system's turn, then its number.
SELECT id FROM systems WHERE id = :system_id LIMIT 1 FOR NO KEY UPDATE;
SELECT nextval('case_number_sequence') AS number \gset
-- Its open incidents, and the reports of its window filed since this replica's last look.
SELECT * FROM incidents WHERE status <> 'INCIDENT_STATUS_RESOLVED'
   AND system_ids LIKE '%"' || :system_id || '"%' ORDER BY id FOR UPDATE;
SELECT id, reporter_user_id, municipality_id, created_at, symptom FROM cases
 WHERE system_id = :system_id AND merged_into IS NULL AND number > :number - 16 ORDER BY number;
-- The case, its count of the hour, its audit record and its event.
INSERT INTO cases (id, number, municipality_id, reporter_user_id, title, description, kind,
    question_subject, severity, system_id, area_id, guide_sections, personal_id, state, team_id, line,
    resolution, change_request_id, change_request_wanted, merged_into, incident_flag, response_due,
    first_response_at, resolution_due, paused_seconds, awaiting_since, resolved_at, related, version,
    created_at, updated_at, incident_id, symptom, handler_user_id, eligibility_request,
    rating_invited_at, cited_sections, suggestion_id, personal_id_erased_at)
  VALUES (gen_random_uuid()::text, :number, :municipality, :reporter, 'kgevmpoudwhjqtra',
    'wspdvnmawbozzpnt bkiujpocmoybbouv', 'CASE_KIND_FAULT', 'QUESTION_SUBJECT_UNSPECIFIED',
    'SEVERITY_NORMAL', :system_id, :area, '[]', NULL, 'CASE_STATE_NEW', NULL,
    'SUPPORT_LINE_UNSPECIFIED', 'RESOLUTION_UNSPECIFIED', '', false, NULL, false,
    now() + interval '1 day', NULL, now() + interval '14 days', 0, NULL, NULL, '[]', 1, now(), now(),
    NULL, '\x6b00400c008000006700600d008000007300e00e008000006200e00e008401006f00400c008801006900600d008801007500e00d008801007a00e00d008801006f00a00d008c01006e00c00e009001006800e00e009001006d00c00e009401007600a00c009c01007100400d00a001006a00a00e00a401006f00000e00a801007400200e00a801006500e00c00ac01007500200d00ac01007700200c00b401007900e00d00b401006f00000e00b401006100a00d00b801002000800e00b801006d00600c00bc01006400a00e00bc01007600a00e00bc01006200200f00bc01007a00400f00bc01007600800c00c001007400c00d00c001006300e00d00c001007500e00d00c001007200800e00c401002000200c00c801006400000e00cc01006100400e00d001007700800c00d401007000400d00d401002000c00e00d401007000a00d00d801006d00c00d00d801006f00400c00dc01006a00000d00dc01007000600e00dc01006200400c00e401006e00000e00e801007000400f00e80100'::bytea,
    NULL, NULL, NULL, '[]', '', NULL)
  RETURNING *;
INSERT INTO filings_by_hour (hour, municipality_id, area_id, system_id, filed)
  VALUES (extract(epoch FROM now())::bigint / 3600, :municipality, :area, :system_id, 1)
  ON CONFLICT (hour, municipality_id, area_id, system_id) DO UPDATE SET filed = filings_by_hour.filed + 1;
INSERT INTO audit_records (entity_type, entity_id, sequence, actor, action, occurred_at, payload,
    redacted, payload_hash, previous_hash, record_hash, key_id, log_index)
  VALUES ('case', gen_random_uuid()::text, 1, 'user:' || :reporter, 'file', now(),
    '{"area_id": "01a25187-56d5-7480-9094-6c5b4c40033e","attachments": 0,"incident_id": null,"number": 9,"personal_id": false,"severity": "SEVERITY_NORMAL","system_id": "01a25187-56eb-73ab-bbd3-2052c90091ed","title": "kgevmpoudwhjqtra"}',
    false, '60836f480ef135b878fd5b4b7c1fb2df291da62d598eb5d990655e5135468056', '',
    'e391fc45510111870d1c1ebd994653111bb001c6c4a5072417d744c278557c58', '59e49b9cca23973e', NULL)
  RETURNING *;
INSERT INTO outbox_events (event_id, event_type, subject, payload, occurred_at)
  VALUES (gen_random_uuid()::text, 'kommune.cases.v1.CaseFiled', gen_random_uuid()::text,
    '\x0a2430316132353138372d356232302d373036352d626363302d616263333631383334623634122430316132353138372d353662352d373038612d613838612d6365383730653238633065611803322430316132353138372d353665622d373361622d626264332d323035326339303039316564'::bytea,
    now())
  RETURNING *;
COMMIT;
