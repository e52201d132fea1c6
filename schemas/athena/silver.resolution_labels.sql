-- Entity-resolution labels from the workstation: an RM said an alert was about the wrong person ("wrong person"
-- verdict in PostgreSQL alert_feedback). Never a relevance label: they train and measure the resolver, not the model.
CREATE TABLE IF NOT EXISTS silver.resolution_labels (
  alert_id       bigint     COMMENT 'the alert the verdict was given on',
  article_id     string     COMMENT 'news article id',
  client_id      string     COMMENT 'the client the resolver matched, who the RM says is not the person in the article',
  mention        string     COMMENT 'the mention the resolver matched',
  matched_name   string     COMMENT 'the client name (or alias) it matched',
  match_reasons  string     COMMENT 'the evidence resolution recorded',
  rm_id          string     COMMENT 'who gave the verdict',
  note           string     COMMENT 'the RM note, if any',
  label          tinyint    COMMENT '0: the mention is not this client',
  labelled_at    timestamp  COMMENT 'when the verdict was given (UTC)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'entity-resolution labels from RM verdicts'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/resolution_labels/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
