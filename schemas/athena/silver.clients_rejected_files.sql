-- clients extracts (CRM) that positions_etl rejected whole (header, encoding of the header, delimiter, another dataset's file, or keys
-- repeated from a file landed before it: an unrecorded correction). One row per file per run date; the file stays in bronze.
CREATE TABLE IF NOT EXISTS silver.clients_rejected_files (
  file_name      string  COMMENT 'the file name in bronze',
  reason         string  COMMENT 'why the whole file was rejected, for a person to read (and the fix, where there is one)',
  bronze_date    date    COMMENT 'the bronze partition the file is in (for clients: the extract date)',
  landed_at      string  COMMENT 'ISO-8601 UTC time it landed (its modification time if the sender put it there directly)',
  source_file    string  COMMENT 'bronze object of the file',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'clients extracts (CRM) rejected whole'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/clients_rejected_files/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
