-- A compressed copy of each file's attributes document, written with it
-- (filetrail.CompressAttributes), so that gzip responses never compress a
-- stored document again. NULL for documents written before this migration
-- until Backfill fills them in (readers compress those on the fly).
ALTER TABLE files ADD COLUMN attributes_deflate bytea;
