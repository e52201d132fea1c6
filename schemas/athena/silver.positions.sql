-- EOD positions from the core-banking export, validated (the positions_etl Glue job).
-- One row per (account_id, instrument_id) per date; quantities are float64 (see the P&L notebook on exactness).
CREATE TABLE IF NOT EXISTS silver.positions (
  account_id     string  COMMENT 'custody account',
  client_id      string  COMMENT 'client master id, e.g. UHNW-102',
  instrument_id  string  COMMENT 'ISIN or internal instrument id',
  quantity       double  COMMENT 'units held at end of day; negative for short positions',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file (header excluded)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'validated EOD positions'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/positions/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
