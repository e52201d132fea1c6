-- Scraped pages the web ETL could not turn into an article, with the reason; the raw page stays in bronze.
CREATE TABLE IF NOT EXISTS silver.web_articles_rejected (
  article_id    string     COMMENT 'sha256 of the page as landed in bronze',
  url           string     COMMENT 'url the scraper was asked to fetch',
  final_url     string     COMMENT 'url the page came from, after redirects',
  content_type  string     COMMENT 'Content-Type header of the response, when present',
  reason_code   string     COMMENT 'no_text | too_short | not_html | unreadable',
  reason        string     COMMENT 'why the page was quarantined, for a person to read',
  fetched_at    timestamp  COMMENT 'when the page was fetched (UTC)',
  bronze_key    string     COMMENT 'bronze object of the raw page',
  extracted_at  timestamp  COMMENT 'when the extraction was tried (UTC)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'quarantined scraped pages'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/web_articles_rejected/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
