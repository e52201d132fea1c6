-- Records of raw-news-events that the news_stream_to_silver stream could not read as a NewsEvent (not Confluent-framed Avro,
-- an unknown schema id, a corrupt or truncated body, an empty value), with the reason; the same bytes are kept in bronze.
-- Written exactly once per Kafka record, like silver.news. Partitioned by the UTC day of the Kafka timestamp.
CREATE TABLE IF NOT EXISTS silver.news_rejected (
  kafka_topic      string     COMMENT 'the topic the record was read from',
  kafka_partition  int        COMMENT 'its partition',
  kafka_offset     bigint     COMMENT 'its offset in that partition',
  kafka_timestamp  timestamp  COMMENT 'its Kafka timestamp (UTC); its day is the partition',
  record_key       binary     COMMENT 'the record key as received',
  record_value     binary     COMMENT 'the record value as received',
  reason           string     COMMENT 'why it could not be read, for a person',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined records of raw-news-events'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/news_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
