CREATE EXTERNAL TABLE IF NOT EXISTS silver.clients_rejected (
  client_id      string  COMMENT 'as read',
  full_name      string  COMMENT 'as read',
  aliases        string  COMMENT 'as read',
  rm_id          string  COMMENT 'as read',
  base_currency  string  COMMENT 'as read',
  reason         string  COMMENT 'why the row was quarantined',
  source_file    string  COMMENT 'bronze object the row came from',
  source_row     bigint  COMMENT '1-based data row number in that file'
)
COMMENT 'quarantined client master rows'
PARTITIONED BY (`date` date)
STORED AS PARQUET
LOCATION 's3://data-lake-silver/clients_rejected/';
