-- Portfolio health per client per date (the daily_pnl EMR job), synced to PostgreSQL client_metrics.
CREATE TABLE IF NOT EXISTS gold.client_metrics (
  client_id           string  COMMENT 'client master id',
  base_currency       string  COMMENT 'client reporting currency',
  market_value        double  COMMENT 'sum of valued positions at t in base currency; null when none could be valued',
  daily_pnl           double  COMMENT 'sum of computable P&L terms over positions at t-1; null on the first date, for a client without positions at t-1, or when no term could be computed',
  positions_count     int     COMMENT 'positions held at t',
  unpriced_positions  int     COMMENT 'positions held at t that could not be valued (missing price or fx)',
  reporting_currency      string  COMMENT 'the settings reporting currency every cross-client view uses (ISO 4217)',
  market_value_reporting  double  COMMENT 'market_value * usd_per_unit(base)_t / usd_per_unit(reporting)_t; null when market_value or a rate is null',
  daily_pnl_reporting     double  COMMENT 'daily_pnl translated at the rate of t (base P&L * usd_per_unit(base)_t / usd_per_unit(reporting)_t); null when daily_pnl or a rate is null',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'daily market value and P&L per client'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-gold/client_metrics/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
