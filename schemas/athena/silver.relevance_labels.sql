-- Labelled (article, client) pairs for the relevance model: the seed set and, later, RM feedback
-- (an alert marked useful / not useful). The latest label per (article_id, client_id) wins.
CREATE TABLE IF NOT EXISTS silver.relevance_labels (
  article_id        string     COMMENT 'news article id',
  client_id         string     COMMENT 'client master id the label is about',
  headline          string     COMMENT 'article headline',
  body              string     COMMENT 'article body (or the alert summary when only that is known)',
  label             tinyint    COMMENT '1: a wealth event the RM should hear about now; 0: a passing mention',
  event_type        string     COMMENT 'a wealth-event family of uhnw.relevance.EVENT_TYPES (liquidity, m_and_a, legal_regulatory, family_succession, residence_tax, philanthropy, large_purchase, business_distress, leadership_change, family_office_fund), or other',
  label_source      string     COMMENT 'seed | rm_feedback',
  labelled_at       timestamp  COMMENT 'when the label was given (UTC)',
  field             string     COMMENT 'headline or body: where the best mention of the client is',
  start             int        COMMENT 'character offset of that mention in its field',
  `end`             int        COMMENT 'end offset of that mention',
  mention           string     COMMENT 'the mention text',
  resolution_score  double     COMMENT 'entity-resolution score of the match',
  mention_spans     string     COMMENT 'every mention of the client as JSON [[field, start, end, score], ...]',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'training labels of the relevance model'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/relevance_labels/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
