-- Records of enriched-alerts that the news_stream_to_silver stream could not read as an EnrichedAlert (not Confluent-framed Avro,
-- an unknown schema id, a corrupt or truncated body, an empty value), with the reason. The record's key and value bytes are
-- kept here and only here: enriched-alerts is derived from news, so the stream keeps no bronze copy of it.
-- Written exactly once per Kafka record, like silver.alerts. Partitioned by the UTC day of the Kafka timestamp.
CREATE TABLE IF NOT EXISTS silver.alerts_rejected (
  kafka_topic      string     COMMENT 'the topic the record was read from',
  kafka_partition  int        COMMENT 'its partition',
  kafka_offset     bigint     COMMENT 'its offset in that partition',
  kafka_timestamp  timestamp  COMMENT 'its Kafka timestamp (UTC); its day is the partition',
  record_key       binary     COMMENT 'the record key as received',
  record_value     binary     COMMENT 'the record value as received',
  reason           string     COMMENT 'why it could not be read, for a person',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined records of enriched-alerts'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/alerts_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
