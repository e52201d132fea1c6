-- The client master as of the partition date: the latest CRM extract landed on or before it.
CREATE TABLE IF NOT EXISTS silver.clients (
  client_id      string         COMMENT 'client master id, e.g. UHNW-102',
  full_name      string         COMMENT 'legal name as in the CRM',
  aliases        array<string>  COMMENT 'other names and nicknames (the extract separates them with |)',
  rm_id          string         COMMENT 'relationship manager who covers the client',
  base_currency  string         COMMENT 'ISO 4217 reporting currency of the client',
  extra          map<string,string> COMMENT 'other columns of the extract, kept as text',
  extract_date   date           COMMENT 'bronze partition date of the extract used',
  source_file    string         COMMENT 'bronze object the row came from',
  source_row     bigint         COMMENT '1-based data row number in that file',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'client master snapshot per date'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/clients/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
