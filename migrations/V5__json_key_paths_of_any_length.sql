-- A key path can be longer than a b-tree index entry may be (about 2.7 kB): key profile rows are told
-- apart by a hash of the path (path_hash = md5(array_to_json(key_path)::text), written with each row)
-- instead of the path itself.
ALTER TABLE ${flyway:defaultSchema}.extraction_json_keys ADD COLUMN path_hash text;
UPDATE ${flyway:defaultSchema}.extraction_json_keys SET path_hash = md5(array_to_json(key_path)::text);
ALTER TABLE ${flyway:defaultSchema}.extraction_json_keys ALTER COLUMN path_hash SET NOT NULL;
ALTER TABLE ${flyway:defaultSchema}.extraction_json_keys DROP CONSTRAINT extraction_json_keys_pkey;
ALTER TABLE ${flyway:defaultSchema}.extraction_json_keys ADD PRIMARY KEY (stream, column_name, path_hash);
