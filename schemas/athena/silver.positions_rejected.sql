-- Position rows that failed validation, kept as read (every value as text) with the reason.
CREATE TABLE IF NOT EXISTS silver.positions_rejected (
  as_of_date     string  COMMENT 'as read',
  account_id     string  COMMENT 'as read',
  client_id      string  COMMENT 'as read',
  instrument_id  string  COMMENT 'as read',
  quantity       string  COMMENT 'as read',
  reason         string  COMMENT 'why the row was quarantined, for a person to read',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file (header excluded)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined EOD position rows'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/positions_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
