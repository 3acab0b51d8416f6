-- Files, one row per file id (the strongest known hash). attributes is the
-- merged VT attributes document, built at write time.
CREATE TABLE files (
    id         TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL DEFAULT '',
    sha1       TEXT NOT NULL DEFAULT '',
    md5        TEXT NOT NULL DEFAULT '',
    hint_size  INTEGER NOT NULL DEFAULT 0,
    hint_first INTEGER NOT NULL DEFAULT 0, -- 0: no sighting yet
    hint_last  INTEGER NOT NULL DEFAULT 0,
    ip_count   INTEGER NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}'
);

-- Every known hash of every file, the file's id included.
CREATE TABLE hashes (
    hash    TEXT PRIMARY KEY,
    file_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX hashes_by_file ON hashes (file_id);

-- File names from sightings (hints).
CREATE TABLE file_names (
    file_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (file_id, name)
) WITHOUT ROWID;

-- At most one fact per (file, origin, source): the superseding one.
CREATE TABLE facts (
    file_id       TEXT NOT NULL,
    origin        INTEGER NOT NULL,
    source        TEXT NOT NULL,
    evidence_time INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    PRIMARY KEY (file_id, origin, source)
);

-- Merged evidence per (ip, file, url, source).
CREATE TABLE evidence (
    ip         TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    url        TEXT NOT NULL,
    source     TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    UNIQUE (ip, file_id, url, source)
);

-- Edges (ip served file), derived from evidence. ip is the canonical text.
CREATE TABLE edges (
    ip         TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    context    TEXT NOT NULL,
    UNIQUE (ip, file_id)
);
CREATE INDEX edges_by_ip ON edges (ip, first_seen DESC, file_id DESC);
CREATE INDEX edges_by_file ON edges (file_id, first_seen DESC, ip DESC);

-- Per-IP aggregates maintained at write time.
CREATE TABLE ips (
    ip         TEXT PRIMARY KEY,
    file_count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    premium     INTEGER NOT NULL,
    admin       INTEGER NOT NULL,
    per_minute  INTEGER NOT NULL,
    per_day     INTEGER NOT NULL,
    per_month   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL DEFAULT 0
);

-- Requests admitted per (key, window, window start).
CREATE TABLE quota_counters (
    key_id       TEXT NOT NULL,
    window_name  TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    PRIMARY KEY (key_id, window_name, window_start)
) WITHOUT ROWID;
