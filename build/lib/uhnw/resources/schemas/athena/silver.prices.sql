-- Vendor EOD closes, validated. One row per instrument per date.
CREATE EXTERNAL TABLE IF NOT EXISTS silver.prices (
  instrument_id  string  COMMENT 'ISIN or internal instrument id',
  close          double  COMMENT 'closing price in the instrument currency',
  currency       string  COMMENT 'ISO 4217 code of the price, upper case',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file'
)
COMMENT 'validated EOD closing prices'
PARTITIONED BY (`date` date)
STORED AS PARQUET
LOCATION 's3://data-lake-silver/prices/';
