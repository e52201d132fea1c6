-- Per-position terms of the daily P&L (the daily_pnl EMR job). One row per (client, account, instrument)
-- held at t or at t-1 (t-1: the latest earlier date with positions in silver).
CREATE TABLE IF NOT EXISTS gold.position_pnl (
  client_id        string  COMMENT 'client master id',
  account_id       string  COMMENT 'custody account',
  instrument_id    string  COMMENT 'instrument',
  base_currency    string  COMMENT 'client reporting currency',
  currency         string  COMMENT 'instrument price currency on t (else t-1)',
  prev_date        date    COMMENT 't-1, null on the first date',
  quantity         double  COMMENT 'q_t; null when the position was closed before t',
  prev_quantity    double  COMMENT 'q_{t-1}; null when opened on t or on the first date',
  close            double  COMMENT 'close_t, null when missing',
  prev_close       double  COMMENT 'close_{t-1}, null when missing',
  fx_to_base       double  COMMENT 'fx_t(currency -> base) = usd_per_unit(currency)/usd_per_unit(base) on t',
  prev_fx_to_base  double  COMMENT 'the same on t-1',
  market_value     double  COMMENT 'q_t * close_t * fx_t in base currency; null when not valued',
  pnl              double  COMMENT 'q_{t-1} * (close_t*fx_t - close_{t-1}*fx_{t-1}); null when not computable',
  unpriced_reason  string  COMMENT 'why market_value is null for a position held at t (missing price, fx, client)',
  reporting_currency      string  COMMENT 'the settings reporting currency every cross-client view uses (ISO 4217)',
  market_value_reporting  double  COMMENT 'market_value * usd_per_unit(base)_t / usd_per_unit(reporting)_t; null when market_value or a rate is null',
  pnl_reporting           double  COMMENT 'pnl translated at the rate of t (pnl * usd_per_unit(base)_t / usd_per_unit(reporting)_t); null when pnl or a rate is null',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'per-position market value and daily P&L terms'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-gold/position_pnl/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
