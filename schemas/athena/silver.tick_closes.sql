-- The market-data feed's close per instrument per date (uhnw.market.write_eod_close, `uhnw ticks close --date D`): the
-- official close when the feed printed one that local day at the venue, else the last trade of the regular session.
-- silver.prices takes these for the instruments the vendor price file lacks (the vendor file wins when both exist).
CREATE TABLE IF NOT EXISTS silver.tick_closes (
  instrument_id   string     COMMENT 'instrument identifier of the ticks (ISIN, or vendor symbol)',
  close           double     COMMENT 'closing price in the instrument currency',
  currency        string     COMMENT 'ISO 4217 code of the price, upper case',
  venue           string     COMMENT 'trading venue MIC (or vendor feed name) of the closing tick',
  close_kind      string     COMMENT 'official (the venue closing price, marked by the feed) or last_trade (last trade of the session)',
  event_time      timestamp  COMMENT 'exchange time of the closing tick (UTC)',
  source_message  string     COMMENT 'the market-ticks message it came from: topic[partition]@offset',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'EOD closes from the market-data feed'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/tick_closes/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
