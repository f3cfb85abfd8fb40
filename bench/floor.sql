-- =============================================================================================
-- bench/floor.sql: the benchmark's floor (issue 7).
--
-- One hand-written DuckDB script that reads the raw landing files directly and computes the
-- pipeline's kpi_annual (financial_year, kpi, value DOUBLE): the least work a hand-written
-- solution needs to give the SAME numbers as the pipeline. No ledger, no pseudonyms, no
-- lineage, no rejection bookkeeping: a file or row the contract refuses is simply left out.
--
-- Rules: shared/export-formats.md (the contract) and docs/decisions.md (what the pipeline
-- chose where the contract is silent); the row rules are those of pipelines/lib/parsers.py.
--
-- Parameter: {{landing}} is replaced by bench/floor.py with the absolute landing path (no
-- trailing slash, single quotes doubled). The last statement returns the result.
--
-- How: every complete file is read whole with read_text (the landing holds thousands of small
-- files, and read_csv's fixed cost per file outweighs its rows), its line 1 checked against
-- the contract's header, and its other lines split into fields (RFC 4180 quotes honoured).
-- Columns are picked by their position in the file's own header (decisions.md: column order
-- is free). A recurring idiom, `unnest([x])`, evaluates x once: DuckDB otherwise copies a
-- macro's argument, and a filter's tested expression, into every place that uses it, and
-- evaluates it again there.
--
-- Simplifications (none can change a figure on valid demo data):
--   * a file that is not UTF-8 makes the script fail loudly (the pipeline quarantines it);
--     malformed quoting is not detected (the pipeline quarantines the file);
--   * records are lines (LF or CRLF): a quoted field spanning lines, or a lone CR, is not
--     read as the pipeline's csv module reads it;
--   * file paths are globbed, so a name holding [ ] * or ? is read as a pattern;
--   * the pipeline breaks exact ties (same updated_at; same newest-export watermark) by file
--     SHA-256 then line number; the floor, which hashes nothing, by file path then line
--     number. Only tied versions with different content could tell the two apart.
-- =============================================================================================

SET VARIABLE landing = '{{landing}}';

-- Contract, zoom/: the staff domains (default merseycare.nhs.uk; configurable).
SET VARIABLE staff_domains = ['merseycare.nhs.uk'];

-- White space as Python's str.strip() and str.split() see it: the parsers strip every field.
SET VARIABLE white_space = (SELECT string_agg(chr(c), '') FROM unnest(
    [9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198,
     8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288]) AS t(c));


-- =============================================================================================
-- Helpers
-- =============================================================================================

-- Strip a value. trim() with a character set is slow, so only a value that starts or ends
-- with white space pays for it.
CREATE OR REPLACE TEMP MACRO strip(v) AS CASE
    WHEN regexp_matches(v, '^[\t\n\x{0B}\x{0C}\r\x{1C}-\x{1F} \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]|[\t\n\x{0B}\x{0C}\r\x{1C}-\x{1F} \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]$')
    THEN trim(v, getvariable('white_space')) ELSE v END;

-- A line with nothing to strip: only ASCII, no space beside a comma or at either end, no
-- other white space character. Nearly every line is plain.
CREATE OR REPLACE TEMP MACRO is_plain(line) AS
    strlen(line) = length(line)
    AND NOT (contains(line, ', ') OR contains(line, ' ,') OR starts_with(line, ' ') OR ends_with(line, ' ')
             OR contains(line, chr(9)) OR contains(line, chr(11)) OR contains(line, chr(12)) OR contains(line, chr(13))
             OR contains(line, chr(28)) OR contains(line, chr(29)) OR contains(line, chr(30)) OR contains(line, chr(31)));

-- The same for a whole file (line 1 apart, which may start with a byte-order mark): when it
-- holds, no line of the file needs the per-line check.
CREATE OR REPLACE TEMP MACRO is_plain_file(content) AS
    strlen(content) - length(content) = CASE WHEN starts_with(content, chr(65279)) THEN 2 ELSE 0 END
    AND NOT (contains(content, ', ') OR contains(content, ' ,') OR contains(content, E'\n ')
             OR contains(content, E' \n') OR contains(content, E' \r') OR ends_with(content, ' ')
             OR contains(content, chr(9)) OR contains(content, chr(11)) OR contains(content, chr(12))
             OR contains(content, chr(28)) OR contains(content, chr(29)) OR contains(content, chr(30))
             OR contains(content, chr(31)));

-- The stripped fields of one CSV line: "a,b" is one field and "" an escaped quote. A plain
-- line without a quote is simply split.
CREATE OR REPLACE TEMP MACRO csv_fields(line) AS CASE
    WHEN NOT contains(line, '"') AND is_plain(line) THEN string_split(line, ',')
    ELSE list_transform(regexp_extract_all(',' || line, ',("(?:[^"]|"")*"|[^,]*)', 1),
                        lambda f: strip(CASE WHEN f LIKE '"%' THEN replace(f[2:-2], '""', '"') ELSE f END))
    END;

-- decisions.md, header matching: names trimmed and trailing empty names (a trailing comma)
-- dropped; then every contract column must be present, none duplicated, and, unless the
-- contract allows extra columns, no other. header_positions gives the contract columns'
-- positions in the header, or NULL when it does not match.
CREATE OR REPLACE TEMP MACRO drop_trailing_empty(names) AS names[
    1 : coalesce(len(names) + 1 - list_position(list_reverse(list_transform(names, lambda x: x <> '')), true), 0)];
CREATE OR REPLACE TEMP MACRO header_positions(names, contract, extra_ok) AS CASE
    -- the usual header: the contract's columns in the contract's order (then any extra ones)
    WHEN names[1 : len(contract)] = contract
     AND (len(names) = len(contract) OR (extra_ok AND NOT list_has_any(names[len(contract) + 1:], contract)))
    THEN range(1, len(contract) + 1)
    WHEN list_has_all(names, contract)
     AND len(list_filter(names, lambda n: list_contains(contract, n))) = len(contract)
     AND (extra_ok OR len(names) = len(contract))
    THEN list_transform(contract, lambda c: list_position(names, c)) END;

-- The lines after line 1 of every file whose line 1 matches the contract's header (a file
-- whose header does not match is quarantined whole: nothing of it is returned), numbered from
-- 1 per file and split into stripped fields, with the contract columns' positions in that
-- file. UTF-8 with or without a byte-order mark; LF or CRLF line ends. Line 1 is read apart
-- (a second read of each file, from the page cache) so that the header work never travels
-- with the lines.
CREATE OR REPLACE TEMP MACRO csv_rows(files, contract, extra_ok) AS TABLE
    WITH headers AS (
        SELECT filename, header_positions(names, contract, extra_ok) AS pos
        FROM (
            SELECT filename, unnest([drop_trailing_empty(header_fields)]) AS names
            FROM (
                SELECT filename, unnest([csv_fields(first_line)]) AS header_fields
                FROM (
                    SELECT filename,
                           regexp_replace(rtrim(split_part(content, E'\n', 1), E'\r'), '^\x{FEFF}', '') AS first_line
                    FROM read_text(files)
                )
            )
        )
    )
    SELECT filename, pos, line_no,
           unnest([CASE WHEN plain AND NOT contains(line, '"') THEN string_split(line, ',')
                        ELSE csv_fields(line) END]) AS fields
    FROM (
        SELECT filename, pos, plain, generate_subscripts(lines, 1) AS line_no, unnest(lines) AS line
        FROM (
            SELECT filename, h.pos, is_plain_file(f.content) AS plain,
                   string_split(replace(f.content, E'\r\n', E'\n'), E'\n') AS lines
            FROM read_text(files) AS f
            JOIN headers AS h USING (filename)
            WHERE h.pos IS NOT NULL
        )
    )
    WHERE line_no > 1;

-- Row width (parsers.row_values), for sources without extra columns: exactly `width` fields;
-- more only when the extra ones are empty (a trailing comma).
CREATE OR REPLACE TEMP MACRO width_ok(fields, width) AS
    len(fields) >= width AND (len(fields) = width OR array_to_string(fields[width + 1:], '') = '');

-- A line with no content at all is not a row.
CREATE OR REPLACE TEMP MACRO is_blank(fields) AS array_to_string(fields, '') = '';

-- Field rules (parsers.py).
CREATE OR REPLACE TEMP MACRO whole_number(v) AS regexp_full_match(v, '[0-9]+');

-- decisions.md: dates must be within 2000-01-01..2099-12-31. The parsers below give NULL for
-- a value that does not parse; the callers then apply in_window (NULL fails it too).
CREATE OR REPLACE TEMP MACRO in_window(d) AS
    CAST(d AS DATE) BETWEEN DATE '2000-01-01' AND DATE '2099-12-31';

-- `YYYY-MM-DD`: a real date.
CREATE OR REPLACE TEMP MACRO iso_date(v) AS CASE
    WHEN regexp_full_match(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN try_cast(v AS DATE) END;

-- Kiosk local time `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS`: a real date and time. (The
-- pattern bounds the hour: DuckDB's cast alone would take 24:00.)
CREATE OR REPLACE TEMP MACRO local_time(v) AS CASE
    WHEN regexp_full_match(v, '[0-9]{4}-[0-9]{2}-[0-9]{2} ([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?')
    THEN try_cast(v AS TIMESTAMP) END;

-- ISO 8601 instant (parsers.iso_instant_utc) as a naive UTC timestamp. An offset is required
-- unless assume_utc (wellbeing calls: the contract says the source is UTC).
CREATE OR REPLACE TEMP MACRO iso_instant_utc(v, assume_utc) AS CASE
    WHEN NOT regexp_full_match(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?')
        THEN NULL
    WHEN regexp_matches(v, '(Z|[+-][0-9]{2}:?[0-9]{2})$')
        THEN timezone('UTC', try_cast(v AS TIMESTAMPTZ))
    WHEN assume_utc
        THEN try_cast(v AS TIMESTAMP)
    END;

-- Zoom's `MM/DD/YYYY hh:mm[:ss] AM/PM` (the account's time zone, Europe/London): hour 1..12,
-- 12 AM is midnight and 12 PM noon; a real date and time.
CREATE OR REPLACE TEMP MACRO zoom_time(v) AS CASE
    WHEN regexp_full_match(v, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4} [0-9]{1,2}:[0-9]{2}(:[0-9]{2})? ?[AaPp][Mm]')
    THEN try_strptime(v, ['%m/%d/%Y %I:%M:%S %p', '%m/%d/%Y %I:%M %p', '%m/%d/%Y %I:%M:%S%p', '%m/%d/%Y %I:%M%p'])
    END;

-- Contract, "Time and the financial year": 1 April .. 31 March, labelled '2021/22'. The
-- argument must already be a Europe/London local date or timestamp.
CREATE OR REPLACE TEMP MACRO fy(d) AS
    CAST(year(CAST(d AS DATE) - INTERVAL 3 MONTH) AS VARCHAR) || '/'
    || lpad(CAST((year(CAST(d AS DATE) - INTERVAL 3 MONTH) + 1) % 100 AS VARCHAR), 2, '0');

-- decisions.md: a staff domain matches itself or any sub-domain, case-insensitively.
CREATE OR REPLACE TEMP MACRO is_staff_domain(domain) AS coalesce(list_bool_or(
    list_transform(getvariable('staff_domains'),
                   lambda d: lower(domain) = d OR ends_with(lower(domain), '.' || d))), false);

-- Contract, "The landing zone": a file still being written ends in `.part` or starts with `.`
-- (a hidden file, or one in a hidden folder): ignored. Judged on the landing-relative path.
CREATE OR REPLACE TEMP MACRO is_complete(path) AS NOT (
    ends_with(path, '.part')
    OR regexp_matches(path[length(getvariable('landing')) + 2:], '(^|/)\.'));


-- =============================================================================================
-- The complete files of each source (read_text needs a non-empty list: /dev/null stands in
-- for "no file"; its empty line 1 matches no header)
-- =============================================================================================

SET VARIABLE visits_files = (
    SELECT coalesce(list(file ORDER BY file), ['/dev/null'])
    FROM glob(getvariable('landing') || '/visits/**') WHERE is_complete(file));

-- Contract, pathways/: file names start `contacts` or `prescriptions` (parsers.parse_pathways
-- folds case); any other pathways file is quarantined.
SET VARIABLE contacts_files = (
    SELECT coalesce(list(file ORDER BY file), ['/dev/null'])
    FROM glob(getvariable('landing') || '/pathways/**')
    WHERE is_complete(file) AND starts_with(lower(parse_filename(file)), 'contacts'));
SET VARIABLE prescriptions_files = (
    SELECT coalesce(list(file ORDER BY file), ['/dev/null'])
    FROM glob(getvariable('landing') || '/pathways/**')
    WHERE is_complete(file) AND starts_with(lower(parse_filename(file)), 'prescriptions'));

SET VARIABLE calls_files = (
    SELECT coalesce(list(file ORDER BY file), ['/dev/null'])
    FROM glob(getvariable('landing') || '/wellbeing_calls/**') WHERE is_complete(file));

SET VARIABLE zoom_files = (
    SELECT coalesce(list(file ORDER BY file), ['/dev/null'])
    FROM glob(getvariable('landing') || '/zoom/**') WHERE is_complete(file));


-- =============================================================================================
-- kpi_annual
-- =============================================================================================

WITH

-- ===================================== visits/ ===============================================
-- Row rules: visit_id required; site_code, visitor_type, purpose and status coded (trimmed and
-- case-folded; an unknown code is a rejection); signed_in_at local time; member_id `M` and
-- digits, or empty.
visit_rows AS (
    SELECT filename, line_no, visit_id, nullif(member_id, '') AS member_id, visitor_type, status,
           signed_in_at
    FROM (
        SELECT filename, line_no,
               fields[pos[1]]                       AS visit_id,
               upper(fields[pos[2]])                AS site_code,
               unnest([local_time(fields[pos[3]])]) AS signed_in_at,
               upper(fields[pos[4]])                AS member_id,
               lower(fields[pos[5]])                AS visitor_type,
               lower(fields[pos[6]])                AS purpose,
               lower(fields[pos[7]])                AS status
        FROM csv_rows(getvariable('visits_files'),
                      ['visit_id', 'site_code', 'signed_in_at', 'member_id', 'visitor_type', 'purpose', 'status'],
                      false)
        WHERE width_ok(fields, 7)
    )
    WHERE visit_id <> ''
      AND site_code IN ('WAL', 'SOU', 'BOO', 'PCL', 'PSL')
      AND visitor_type IN ('member', 'guest', 'carer', 'volunteer', 'staff')
      AND purpose IN ('course', 'pathways', 'drop_in', 'cafe', 'library', 'computers', 'volunteering', 'other')
      AND status IN ('ok', 'void')
      AND (member_id = '' OR regexp_full_match(member_id, 'M[0-9]+'))
      AND in_window(signed_in_at)
),

-- decisions.md, newest export: files in the order of their watermark, the latest
-- signed_in_at each holds (then by path); a version ranks by (file, line).
visit_file_order AS (
    SELECT filename, row_number() OVER (ORDER BY max(signed_in_at), filename) AS file_rank
    FROM visit_rows
    GROUP BY filename
),

-- Contract: kiosk exports overlap, so one visit_id arrives in several files; a visit that is
-- void in ANY delivery is void. decisions.md: its other fields come from the newest export.
visits AS (
    SELECT v.visit_id,
           bool_or(v.status = 'void') AS is_void,
           arg_max({'member_id': v.member_id, 'visitor_type': v.visitor_type, 'signed_in_at': v.signed_in_at},
                   f.file_rank * 4294967296 + v.line_no) AS winner
    FROM visit_rows AS v
    JOIN visit_file_order AS f USING (filename)
    GROUP BY v.visit_id
),

-- visits = distinct visit_ids, never void, visitor_type not staff, in the year of the local
-- date; visiting_members = distinct non-empty member_ids among them.
visit_kpis AS (
    SELECT fy(winner.signed_in_at)          AS financial_year,
           count(*)                         AS visits,
           count(DISTINCT winner.member_id) AS visiting_members
    FROM visits
    WHERE NOT is_void AND winner.visitor_type <> 'staff'
    GROUP BY ALL
),

-- ===================================== pathways/ contacts* ===================================
-- Row rules: contact_id required; contact_date `YYYY-MM-DD`; mode and outcome coded;
-- updated_at ISO 8601 with an offset (decisions.md: without one it is rejected). member_id,
-- advisor_id and site_code are free (decisions.md).
contact_rows AS (
    SELECT filename, line_no, contact_id, contact_date, outcome, updated_at
    FROM (
        SELECT filename, line_no,
               fields[pos[1]]                                   AS contact_id,
               unnest([iso_date(fields[pos[5]])])               AS contact_date,
               lower(fields[pos[6]])                            AS mode,
               lower(fields[pos[7]])                            AS outcome,
               unnest([iso_instant_utc(fields[pos[8]], false)]) AS updated_at
        FROM csv_rows(getvariable('contacts_files'),
                      ['contact_id', 'member_id', 'advisor_id', 'site_code', 'contact_date', 'mode',
                       'outcome', 'updated_at'],
                      false)
        WHERE width_ok(fields, 8)
    )
    WHERE contact_id <> ''
      AND mode IN ('face_to_face', 'phone', 'video')
      AND outcome IN ('booked', 'attended', 'did_not_attend', 'cancelled', 'deleted')
      AND in_window(contact_date)
      AND in_window(updated_at)
),

-- Contract: each export holds the records changed since the last one; the version with the
-- latest updated_at wins.
contacts AS (
    SELECT contact_id,
           arg_max({'outcome': outcome, 'contact_date': contact_date},
                   {'updated_at': updated_at, 'file': filename, 'line': line_no}) AS latest
    FROM contact_rows
    GROUP BY contact_id
),

-- pathway_contacts = contacts whose latest version is attended, in the year of contact_date.
contact_kpis AS (
    SELECT fy(latest.contact_date) AS financial_year, count(*) AS pathway_contacts
    FROM contacts
    WHERE latest.outcome = 'attended'
    GROUP BY ALL
),

-- ===================================== pathways/ prescriptions* ==============================
-- Row rules: prescription_id and contact_id required; category and status coded;
-- created_date `YYYY-MM-DD`; updated_at with an offset. referred_to is free text.
prescription_rows AS (
    SELECT filename, line_no, prescription_id, contact_id, status, updated_at
    FROM (
        SELECT filename, line_no,
               fields[pos[1]]                                   AS prescription_id,
               fields[pos[2]]                                   AS contact_id,
               lower(fields[pos[3]])                            AS category,
               unnest([iso_date(fields[pos[5]])])               AS created_date,
               lower(fields[pos[6]])                            AS status,
               unnest([iso_instant_utc(fields[pos[7]], false)]) AS updated_at
        FROM csv_rows(getvariable('prescriptions_files'),
                      ['prescription_id', 'contact_id', 'category', 'referred_to', 'created_date',
                       'status', 'updated_at'],
                      false)
        WHERE width_ok(fields, 7)
    )
    WHERE prescription_id <> '' AND contact_id <> ''
      AND category IN ('housing', 'debt', 'benefits', 'employment', 'wellbeing', 'learning',
                       'volunteering', 'community', 'physical_activity', 'other')
      AND status IN ('made', 'accepted', 'completed', 'declined', 'withdrawn', 'deleted')
      AND in_window(created_date)
      AND in_window(updated_at)
),

prescriptions AS (
    SELECT prescription_id,
           arg_max({'contact_id': contact_id, 'status': status},
                   {'updated_at': updated_at, 'file': filename, 'line': line_no}) AS latest
    FROM prescription_rows
    GROUP BY prescription_id
),

-- social_prescriptions = latest status not withdrawn or deleted (declined counts,
-- decisions.md) and the contact's latest version attended, in the year of the CONTACT's
-- contact_date. An orphan (its contact has not arrived) finds no contact: not counted.
prescription_kpis AS (
    SELECT fy(c.latest.contact_date) AS financial_year, count(*) AS social_prescriptions
    FROM prescriptions AS p
    JOIN contacts AS c ON c.contact_id = p.latest.contact_id
    WHERE p.latest.status NOT IN ('withdrawn', 'deleted')
      AND c.latest.outcome = 'attended'
    GROUP BY ALL
),

-- ===================================== wellbeing_calls/ ======================================
-- Row rules: call_id required; call_started_at ISO 8601, UTC when it has no offset
-- (decisions.md); direction and outcome coded; duration_seconds a whole number >= 0.
-- service_user_ref and staff_id may be empty.
call_rows AS (
    SELECT filename, line_no, call_id, nullif(service_user_ref, '') AS service_user_ref, outcome,
           started_utc
    FROM (
        SELECT filename, line_no,
               fields[pos[1]]                                  AS call_id,
               fields[pos[2]]                                  AS service_user_ref,
               unnest([iso_instant_utc(fields[pos[3]], true)]) AS started_utc,
               lower(fields[pos[5]])                           AS direction,
               lower(fields[pos[6]])                           AS outcome,
               fields[pos[7]]                                  AS duration_seconds
        FROM csv_rows(getvariable('calls_files'),
                      ['call_id', 'service_user_ref', 'call_started_at', 'staff_id', 'direction',
                       'outcome', 'duration_seconds'],
                      false)
        WHERE width_ok(fields, 7)
    )
    WHERE call_id <> ''
      AND direction IN ('outbound', 'inbound')
      AND outcome IN ('successful', 'no_answer', 'voicemail', 'wrong_number', 'declined', 'callback_requested')
      AND whole_number(duration_seconds)
      AND in_window(started_utc)
),

-- decisions.md, newest export: files in the order of their watermark, the latest call each
-- holds (then by path); a version ranks by (file, line).
call_file_order AS (
    SELECT filename, row_number() OVER (ORDER BY max(started_utc), filename) AS file_rank
    FROM call_rows
    GROUP BY filename
),

-- Contract: exports overlap; a call_id delivered twice is one call. decisions.md: its fields
-- come from the newest export.
calls AS (
    SELECT c.call_id,
           arg_max({'service_user_ref': c.service_user_ref, 'outcome': c.outcome, 'started_utc': c.started_utc},
                   f.file_rank * 4294967296 + c.line_no) AS winner
    FROM call_rows AS c
    JOIN call_file_order AS f USING (filename)
    GROUP BY c.call_id
),

-- Contract, "Time": UTC is converted to Europe/London before the year is taken
-- (2022-03-31T23:30Z is 00:30 BST on 1 April 2022: 2022/23).
-- wellbeing_calls = distinct calls; wellbeing_successful_contacts = calls with outcome
-- successful; wellbeing_people_reached = distinct service_user_refs with a successful call.
call_kpis AS (
    SELECT fy(timezone('Europe/London', winner.started_utc AT TIME ZONE 'UTC')) AS financial_year,
           count(*)                                                               AS wellbeing_calls,
           count(*) FILTER (WHERE winner.outcome = 'successful')                  AS wellbeing_successful_contacts,
           count(DISTINCT winner.service_user_ref) FILTER (WHERE winner.outcome = 'successful')
                                                                                  AS wellbeing_people_reached
    FROM calls
    GROUP BY ALL
),

-- ===================================== zoom/ =================================================
-- One file per meeting occurrence: the meeting header on line 1 (extra columns allowed), the
-- meeting row on line 2, a separator (empty or only commas), then a participant header in one
-- of two forms and its rows. Trailing commas and extra trailing columns occur.
zoom_lines AS MATERIALIZED (
    SELECT filename, pos, line_no, fields, is_blank(fields) AS blank
    FROM csv_rows(getvariable('zoom_files'),
                  ['Meeting ID', 'Topic', 'Start Time', 'End Time', 'User Email', 'Duration (Minutes)',
                   'Participants'],
                  true)
),

-- Per file: the meeting row (line 2; blank = no meeting row) and the line of the participant
-- header (the first non-blank line after it; none = a meeting without participants).
zoom_blocks AS (
    SELECT filename,
           any_value(pos)                                             AS pos,
           any_value(fields) FILTER (WHERE line_no = 2 AND NOT blank) AS meeting_row,
           min(line_no)      FILTER (WHERE line_no > 2 AND NOT blank) AS participant_header_line
    FROM zoom_lines
    GROUP BY filename
),

-- The meeting row (parsers.parse_zoom): a session needs a Meeting ID (white space removed,
-- digits) and a Start Time; End Time, Duration and Participants may be empty but must parse
-- when given. A meeting row that fails identifies no session: the file is quarantined whole.
-- The meeting row's User Email is the host's.
zoom_meeting_rows AS (
    SELECT filename, participant_header_line, meeting_id, start_time, lower(host_email) AS host_email
    FROM (
        SELECT filename, participant_header_line,
               regexp_replace(coalesce(meeting_row[pos[1]], ''), '\s+', '', 'g') AS meeting_id,
               unnest([zoom_time(coalesce(meeting_row[pos[3]], ''))])           AS start_time,
               coalesce(meeting_row[pos[4]], '')                                AS end_time,
               coalesce(meeting_row[pos[5]], '')                                AS host_email,
               coalesce(meeting_row[pos[6]], '')                                AS duration,
               coalesce(meeting_row[pos[7]], '')                                AS participants
        FROM zoom_blocks
        WHERE meeting_row IS NOT NULL
    )
    WHERE regexp_full_match(meeting_id, '[0-9]+')
      AND in_window(start_time)
      AND (end_time = '' OR in_window(zoom_time(end_time)))
      AND (duration = '' OR whole_number(duration))
      AND (participants = '' OR whole_number(participants))
),

-- The participant header picks the form: per join (`Join Time`) or Zoom's "show unique users"
-- (`Total Duration (Minutes)`). Neither, or a contract column missing or duplicated,
-- quarantines the whole file, meeting included.
zoom_participant_layout AS (
    SELECT filename, form, CASE form
               WHEN 'per_join' THEN header_positions(names, ['Name (Original Name)', 'User Email',
                                        'Join Time', 'Leave Time', 'Duration (Minutes)', 'Guest'], true)
               WHEN 'unique_users' THEN header_positions(names, ['Name (Original Name)', 'User Email',
                                        'Total Duration (Minutes)', 'Guest'], true)
           END AS pos
    FROM (
        SELECT filename, names,
               CASE WHEN list_contains(names, 'Join Time') THEN 'per_join'
                    WHEN list_contains(names, 'Total Duration (Minutes)') THEN 'unique_users'
               END AS form
        FROM (
            SELECT l.filename, drop_trailing_empty(l.fields) AS names
            FROM zoom_lines AS l
            JOIN zoom_meeting_rows AS m ON l.filename = m.filename AND l.line_no = m.participant_header_line
        )
    )
),

-- The files that load: their session and host.
zoom_meetings AS (
    SELECT m.filename, m.meeting_id, m.start_time, m.host_email, m.participant_header_line,
           p.form, p.pos
    FROM zoom_meeting_rows AS m
    LEFT JOIN zoom_participant_layout AS p USING (filename)
    WHERE m.participant_header_line IS NULL OR p.pos IS NOT NULL
),

-- Participant rows. Row rules: a person needs a User Email or a Name; Join Time, Leave Time
-- and the duration may be empty but must parse when given.
-- Person (contract): the lower-cased, trimmed User Email; where it is empty, the display name
-- lower-cased, the parenthesised original name dropped and white space collapsed
-- (`Jo B (Joanne Bloggs)` -> `jo b`). decisions.md: an e-mail and a name are never the same
-- person, hence the prefixes.
zoom_participants AS (
    SELECT meeting_id, start_time, email,
           CASE WHEN email <> '' THEN 'email:' || email ELSE 'name:' || name_key END AS person
    FROM (
        SELECT m.meeting_id, m.start_time,
               lower(coalesce(l.fields[m.pos[2]], '')) AS email,
               lower(trim(regexp_replace(
                   regexp_replace(coalesce(l.fields[m.pos[1]], ''),
                                  '[\t\n\x{0B}\x{0C}\r\x{1C}-\x{1F} \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+',
                                  ' ', 'g'),
                   '\([^()]*\) ?$', ''))) AS name_key,
               CASE WHEN m.form = 'per_join' THEN coalesce(l.fields[m.pos[3]], '') ELSE '' END AS join_time,
               CASE WHEN m.form = 'per_join' THEN coalesce(l.fields[m.pos[4]], '') ELSE '' END AS leave_time,
               coalesce(l.fields[CASE WHEN m.form = 'per_join' THEN m.pos[5] ELSE m.pos[3] END], '') AS duration
        FROM zoom_lines AS l
        JOIN zoom_meetings AS m ON l.filename = m.filename AND l.line_no > m.participant_header_line
        WHERE NOT l.blank
    )
    WHERE (email <> '' OR name_key <> '')
      AND (join_time = '' OR in_window(zoom_time(join_time)))
      AND (leave_time = '' OR in_window(zoom_time(leave_time)))
      AND (duration = '' OR whole_number(duration))
),

-- Staff (contract): the host, and anyone whose e-mail domain is a staff domain; staff are never
-- members. decisions.md: someone who hosts any session is staff in every session they join.
zoom_hosts AS (
    SELECT DISTINCT host_email FROM zoom_meetings WHERE host_email <> ''
),

-- Contract: a session is one meeting occurrence, (Meeting ID without spaces, Start Time); the
-- same occurrence exported twice is one session. One attendance per (session, person), however
-- many rows (rejoins) or files show it; the person is staff in it when any of their rows is.
zoom_attendances AS (
    SELECT p.meeting_id, p.start_time, p.person,
           bool_or(h.host_email IS NOT NULL
                   OR is_staff_domain(CASE WHEN contains(p.email, '@')
                                           THEN regexp_extract(p.email, '@([^@]*)$', 1) END)) AS is_staff
    FROM zoom_participants AS p
    LEFT JOIN zoom_hosts AS h ON h.host_email = p.email
    GROUP BY ALL
),

-- zoom_sessions = delivered sessions (at least one non-staff attendance), in the year of the
-- local date of Start Time (Zoom times are Europe/London already); zoom_attendances =
-- non-staff attendances; zoom_members = distinct non-staff persons. Attendances follow their
-- session's year (decisions.md).
zoom_kpis AS (
    SELECT fy(start_time)                           AS financial_year,
           count(DISTINCT (meeting_id, start_time)) AS zoom_sessions,
           count(DISTINCT person)                   AS zoom_members,
           count(*)                                 AS zoom_attendances
    FROM zoom_attendances
    WHERE NOT is_staff
    GROUP BY ALL
),

-- ===================================== kpi_annual ============================================
-- decisions.md: the years shown are those with at least one counted unit in any source; in
-- such a year every KPI appears, a count as 0 when its source has none.
years AS (
    SELECT financial_year FROM visit_kpis
    UNION SELECT financial_year FROM contact_kpis
    UNION SELECT financial_year FROM prescription_kpis
    UNION SELECT financial_year FROM zoom_kpis
    UNION SELECT financial_year FROM call_kpis
),

-- Ratios are unrounded, NULL when the denominator is 0.
kpi_values AS (
    SELECT y.financial_year,
           coalesce(v.visits, 0)::DOUBLE                        AS visits,
           coalesce(v.visiting_members, 0)::DOUBLE              AS visiting_members,
           coalesce(c.pathway_contacts, 0)::DOUBLE              AS pathway_contacts,
           coalesce(p.social_prescriptions, 0)::DOUBLE          AS social_prescriptions,
           coalesce(p.social_prescriptions, 0)::DOUBLE / nullif(c.pathway_contacts, 0)
                                                                AS prescriptions_per_contact,
           coalesce(z.zoom_sessions, 0)::DOUBLE                 AS zoom_sessions,
           coalesce(z.zoom_members, 0)::DOUBLE                  AS zoom_members,
           coalesce(z.zoom_attendances, 0)::DOUBLE              AS zoom_attendances,
           coalesce(z.zoom_attendances, 0)::DOUBLE / nullif(z.zoom_members, 0)
                                                                AS sessions_per_member,
           coalesce(w.wellbeing_calls, 0)::DOUBLE               AS wellbeing_calls,
           coalesce(w.wellbeing_successful_contacts, 0)::DOUBLE AS wellbeing_successful_contacts,
           coalesce(w.wellbeing_people_reached, 0)::DOUBLE      AS wellbeing_people_reached
    FROM years AS y
    LEFT JOIN visit_kpis        AS v USING (financial_year)
    LEFT JOIN contact_kpis      AS c USING (financial_year)
    LEFT JOIN prescription_kpis AS p USING (financial_year)
    LEFT JOIN zoom_kpis         AS z USING (financial_year)
    LEFT JOIN call_kpis         AS w USING (financial_year)
)

SELECT financial_year, kpi, value
FROM kpi_values
UNPIVOT INCLUDE NULLS (value FOR kpi IN (
    visits, visiting_members, pathway_contacts, social_prescriptions, prescriptions_per_contact,
    zoom_sessions, zoom_members, zoom_attendances, sessions_per_member,
    wellbeing_calls, wellbeing_successful_contacts, wellbeing_people_reached))
ORDER BY financial_year, kpi;
