-- Whether commit timestamps are recorded (latest-commit-wins needs them).
SELECT pg_catalog.current_setting('track_commit_timestamp')::bool
