-- EOD closes, validated. One row per instrument per date: the vendor price file's close, and for the instruments it
-- lacks the market-data feed's close (silver.tick_closes). When both exist the vendor file wins (uhnw.market.merge_closes).
CREATE TABLE IF NOT EXISTS silver.prices (
  instrument_id  string  COMMENT 'ISIN or internal instrument id',
  close          double  COMMENT 'closing price in the instrument currency',
  currency       string  COMMENT 'ISO 4217 code of the price, upper case',
  source_file    string  COMMENT 'bronze object the row came from (for source ticks: the market-ticks message, topic[partition]@offset)',
  source_row     bigint  COMMENT '1-based data row number in that file (null for source ticks)',
  source         string  COMMENT 'vendor (the EOD price file) or ticks (the market-data feed close); null in partitions written before this column: vendor',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'validated EOD closing prices'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/prices/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
