-- Alerts of enriched-alerts (EnrichedAlert), read committed (the hot path produces them in Kafka transactions, so an
-- aborted batch never reaches here) and appended by the news_stream_to_silver stream exactly once per Kafka record:
-- (kafka_topic, kafka_partition, kafka_offset) is unique. Partitioned by the UTC day of processed_at, when the alert fired.
CREATE TABLE IF NOT EXISTS silver.alerts (
  alert_id          string         COMMENT 'deterministic id from article_id and client_id: a replayed article gives the same id',
  article_id        string         COMMENT 'the silver.news article the alert comes from',
  client_id         string         COMMENT 'resolved client id, e.g. UHNW-102',
  rm_id             string         COMMENT 'relationship manager covering the client, who received the alert',
  headline          string         COMMENT 'article headline',
  summary           string         COMMENT 'short summary for the RM (model or extractive)',
  relevance         double         COMMENT 'relevance score in [0, 1] of the article for this client',
  resolution_score  double         COMMENT 'entity-resolution confidence in [0, 1] that the mention is this client',
  mention           string         COMMENT 'text span of the article that mentions the client',
  matched_name      string         COMMENT 'client name or alias the mention matched',
  event_type        string         COMMENT 'classified event type: liquidity_event, litigation, succession, m_and_a, other',
  source            string         COMMENT 'news provider',
  url               string         COMMENT 'article url, when known',
  published_at      timestamp      COMMENT 'article publication time (UTC), when known',
  processed_at      timestamp      COMMENT 'when the hot path produced the alert (UTC); its day is the partition',
  model_version     string         COMMENT 'version of the relevance and summarization models',
  match_reasons     array<string>  COMMENT 'what raised or lowered the resolution score',
  kafka_topic       string         COMMENT 'the topic the record was read from',
  kafka_partition   int            COMMENT 'its partition',
  kafka_offset      bigint         COMMENT 'its offset in that partition',
  kafka_timestamp   timestamp      COMMENT 'its Kafka timestamp (UTC)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'RM alerts, one row per committed record of enriched-alerts'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/alerts/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
