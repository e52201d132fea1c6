-- EOD FX rates as USD per one unit of the currency. USD itself may be absent from the file: it is 1.
CREATE TABLE IF NOT EXISTS silver.fx (
  currency       string  COMMENT 'ISO 4217 code, upper case',
  usd_per_unit   double  COMMENT 'US dollars for one unit of currency; > 0',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'validated EOD FX rates'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/fx/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
