CREATE EXTERNAL TABLE IF NOT EXISTS silver.prices_rejected (
  price_date     string  COMMENT 'as read',
  instrument_id  string  COMMENT 'as read',
  close          string  COMMENT 'as read',
  currency       string  COMMENT 'as read',
  reason         string  COMMENT 'why the row was quarantined',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file'
)
COMMENT 'quarantined price rows'
PARTITIONED BY (`date` date)
STORED AS PARQUET
LOCATION 's3://data-lake-silver/prices_rejected/';
