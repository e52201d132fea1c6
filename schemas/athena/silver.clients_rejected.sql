CREATE TABLE IF NOT EXISTS silver.clients_rejected (
  client_id      string  COMMENT 'as read',
  full_name      string  COMMENT 'as read',
  aliases        string  COMMENT 'as read',
  rm_id          string  COMMENT 'as read',
  base_currency  string  COMMENT 'as read',
  reason         string  COMMENT 'why the row was quarantined',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined client master rows'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/clients_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
