-- filetrail schema for PostgreSQL, Citus-ready.
--
-- Distribution (applied by MigrateCitus; plain PostgreSQL ignores it):
--   ip_stats, edges, evidence         by ip       (co-located)
--   files, file_facts, file_names     by file_id  (co-located)
--   hashes                            by hash
--   quota_counters                    by key_id
--   api_keys                          reference table
-- Every primary key contains its table's distribution column and there are
-- no foreign keys, as Citus requires. Text that is compared or ordered uses
-- the "C" collation so that ordering is bytewise, as in SQLite.

-- What is known of one IP address: its number of edges and their time range.
CREATE TABLE ip_stats (
	ip         text COLLATE "C" NOT NULL,
	file_count bigint NOT NULL,
	first_seen bigint NOT NULL,
	last_seen  bigint NOT NULL,
	PRIMARY KEY (ip)
);

-- One row per (IP, file): the edge, with its context_attributes as built by
-- filetrail.EdgeContext (stored as text so the bytes are kept exactly).
CREATE TABLE edges (
	ip         text COLLATE "C" NOT NULL,
	file_id    text COLLATE "C" NOT NULL,
	first_seen bigint NOT NULL,
	last_seen  bigint NOT NULL,
	context    text NOT NULL,
	PRIMARY KEY (ip, file_id)
);
-- downloaded_files: newest first, ties by file id descending.
CREATE INDEX edges_ip_page ON edges (ip, first_seen DESC, file_id DESC);
-- itw_ips and re-keying a file: by file, newest first, ties by IP text.
CREATE INDEX edges_file_page ON edges (file_id, first_seen DESC, ip DESC);

-- The merged evidence of an edge, one row per (IP, file, URL, source).
-- ev_key is a digest of (url, source): URLs may be longer than an index
-- entry can hold.
CREATE TABLE evidence (
	ip         text COLLATE "C" NOT NULL,
	file_id    text COLLATE "C" NOT NULL,
	ev_key     bytea NOT NULL,
	url        text NOT NULL,
	source     text NOT NULL,
	first_seen bigint NOT NULL,
	last_seen  bigint NOT NULL,
	PRIMARY KEY (ip, file_id, ev_key)
);

-- A file document. attributes is filetrail.MergeFile of its facts and hints,
-- as text (not jsonb: jsonb would reorder keys and change the bytes).
CREATE TABLE files (
	file_id    text COLLATE "C" NOT NULL,
	sha256     text COLLATE "C" NOT NULL DEFAULT '',
	sha1       text COLLATE "C" NOT NULL DEFAULT '',
	md5        text COLLATE "C" NOT NULL DEFAULT '',
	attributes text NOT NULL,
	ip_count   bigint NOT NULL DEFAULT 0,
	hint_size  bigint NOT NULL DEFAULT 0,
	hint_first bigint NOT NULL DEFAULT 0,
	hint_last  bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (file_id)
);

-- The kept fact of each (file, origin, source): the one that supersedes the
-- others (filetrail.StoredFact.Supersedes).
CREATE TABLE file_facts (
	file_id       text COLLATE "C" NOT NULL,
	origin        smallint NOT NULL,
	source        text COLLATE "C" NOT NULL,
	attributes    text NOT NULL,
	evidence_time bigint NOT NULL,
	digest        text COLLATE "C" NOT NULL,
	PRIMARY KEY (file_id, origin, source)
);

-- File names that sightings reported (hints).
CREATE TABLE file_names (
	file_id text COLLATE "C" NOT NULL,
	name    text COLLATE "C" NOT NULL,
	PRIMARY KEY (file_id, name)
);

-- Every known hash (md5, sha1, sha256) of every file, to its file id.
CREATE TABLE hashes (
	hash    text COLLATE "C" NOT NULL,
	file_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (hash)
);
-- Re-pointing the hashes of a file merged into a stronger id.
CREATE INDEX hashes_file ON hashes (file_id);

CREATE TABLE api_keys (
	id          text COLLATE "C" NOT NULL,
	name        text COLLATE "C" NOT NULL,
	secret_hash text COLLATE "C" NOT NULL,
	premium     boolean NOT NULL,
	admin       boolean NOT NULL,
	per_minute  bigint NOT NULL,
	per_day     bigint NOT NULL,
	per_month   bigint NOT NULL,
	created_at  bigint NOT NULL,
	revoked_at  bigint NOT NULL DEFAULT 0,
	-- insertion time, to list keys created in the same second in order
	inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (id),
	UNIQUE (name),
	UNIQUE (secret_hash)
);

-- Requests counted per key and quota window.
CREATE TABLE quota_counters (
	key_id       text COLLATE "C" NOT NULL,
	window_name  text COLLATE "C" NOT NULL,
	window_start bigint NOT NULL,
	window_end   bigint NOT NULL,
	n            bigint NOT NULL,
	PRIMARY KEY (key_id, window_name, window_start)
);
