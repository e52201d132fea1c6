-- News articles of raw-news-events (NewsEvent), appended by the news_stream_to_silver stream one micro-batch at a time,
-- exactly once per Kafka record: (kafka_topic, kafka_partition, kafka_offset) is unique. A provider that sends the same
-- article twice gives two rows with the same article_id. Partitioned by the UTC day of received_at, which every record has.
CREATE TABLE IF NOT EXISTS silver.news (
  article_id       string         COMMENT 'stable article id: the provider id, else sha256 of the canonical url',
  source           string         COMMENT 'provider or feed name, e.g. reuters, ft-rss',
  channel          string         COMMENT 'how the article reached uhnw: webhook, poll, rss or scrape',
  url              string         COMMENT 'canonical article url, when the provider gives one',
  headline         string         COMMENT 'headline as published',
  body             string         COMMENT 'full article text (plain); null when the provider sends only a headline',
  summary          string         COMMENT 'the provider abstract or RSS description, if any',
  language         string         COMMENT 'BCP 47 language tag of the text; null when unknown',
  published_at     timestamp      COMMENT 'publication time stated by the provider (UTC); null when it gives none',
  received_at      timestamp      COMMENT 'when uhnw ingested the article (UTC); its day is the partition',
  authors          array<string>  COMMENT 'bylines, in the provider order',
  tags             array<string>  COMMENT 'provider topic codes or categories',
  entities         array<string>  COMMENT 'people and organisations tagged by the provider: hints, not resolved client ids',
  tickers          array<string>  COMMENT 'instrument symbols tagged by the provider',
  content_sha256   string         COMMENT 'hex sha256 of headline and body, for duplicates across providers',
  raw_key          string         COMMENT 'bronze key of the original provider payload, when it was kept',
  kafka_topic      string         COMMENT 'the topic the record was read from',
  kafka_partition  int            COMMENT 'its partition',
  kafka_offset     bigint         COMMENT 'its offset in that partition',
  kafka_timestamp  timestamp      COMMENT 'its Kafka timestamp (UTC)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'news articles, one row per record of raw-news-events'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/news/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
