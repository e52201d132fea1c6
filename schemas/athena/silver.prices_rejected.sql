CREATE TABLE IF NOT EXISTS silver.prices_rejected (
  price_date     string  COMMENT 'as read',
  instrument_id  string  COMMENT 'as read',
  close          string  COMMENT 'as read',
  currency       string  COMMENT 'as read',
  reason         string  COMMENT 'why the row was quarantined',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined price rows'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/prices_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
