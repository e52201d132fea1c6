CREATE TABLE IF NOT EXISTS silver.fx_rejected (
  rate_date      string  COMMENT 'as read',
  currency       string  COMMENT 'as read',
  usd_per_unit   string  COMMENT 'as read',
  reason         string  COMMENT 'why the row was quarantined',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined FX rows'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/fx_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
