-- Fewer B-trees to write per new edge and file:
--  * a file's sighting names move into files.names (a sorted JSON array);
--  * the hashes that name a file are found through its hash columns, so the
--    hashes_by_file index goes;
--  * a sha256 only ever names the file of that id: hashes keeps md5 and sha1;
--  * evidence and edges are keyed by their primary key (WITHOUT ROWID).

ALTER TABLE files ADD COLUMN names TEXT NOT NULL DEFAULT '[]';
UPDATE files SET names = (SELECT json_group_array(name ORDER BY name) FROM file_names WHERE file_id = files.id)
WHERE id IN (SELECT file_id FROM file_names);
DROP TABLE file_names;

DROP INDEX hashes_by_file;
DELETE FROM hashes WHERE length(hash) = 64;

CREATE TABLE evidence_v2 (
    ip         TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    url        TEXT NOT NULL,
    source     TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (ip, file_id, url, source)
) WITHOUT ROWID;
INSERT INTO evidence_v2 SELECT ip, file_id, url, source, first_seen, last_seen FROM evidence;
DROP TABLE evidence;
ALTER TABLE evidence_v2 RENAME TO evidence;

CREATE TABLE edges_v2 (
    ip         TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    context    TEXT NOT NULL,
    PRIMARY KEY (ip, file_id)
) WITHOUT ROWID;
INSERT INTO edges_v2 SELECT ip, file_id, first_seen, last_seen, context FROM edges;
DROP TABLE edges;
ALTER TABLE edges_v2 RENAME TO edges;
CREATE INDEX edges_by_ip ON edges (ip, first_seen DESC, file_id DESC);
CREATE INDEX edges_by_file ON edges (file_id, first_seen DESC, ip DESC);
