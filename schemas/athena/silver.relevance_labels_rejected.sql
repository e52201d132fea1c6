-- Labels quarantined on their way into silver.relevance_labels: the resolver finds no mention of the labelled client in
-- the article (an RM vote on an alert whose text no longer names the client, a training set that names someone else).
CREATE TABLE IF NOT EXISTS silver.relevance_labels_rejected (
  article_id        string     COMMENT 'news article id',
  client_id         string     COMMENT 'client master id the label is about',
  headline          string     COMMENT 'article headline',
  body              string     COMMENT 'article body (or the alert summary when only that is known)',
  label             tinyint    COMMENT '1: a wealth event the RM should hear about now; 0: a passing mention',
  event_type        string     COMMENT 'a wealth-event family of uhnw.relevance.EVENT_TYPES, or other',
  label_source      string     COMMENT 'seed | rm_feedback',
  labelled_at       timestamp  COMMENT 'when the label was given (UTC)',
  reason            string     COMMENT 'why the label was not kept',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'relevance labels quarantined with their reason'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/relevance_labels_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
