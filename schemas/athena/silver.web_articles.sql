-- Articles extracted from the pages the niche scrapers landed in bronze/web (trafilatura), with the clients they mention.
CREATE TABLE IF NOT EXISTS silver.web_articles (
  article_id      string         COMMENT 'sha256 of the page as landed in bronze (the same content lands once)',
  url             string         COMMENT 'url the scraper was asked to fetch',
  final_url       string         COMMENT 'url the page came from, after redirects',
  site            string         COMMENT 'host name of final_url',
  title           string         COMMENT 'article title',
  author          string         COMMENT 'author(s) as the page names them, ; separated; null when none',
  published_date  date           COMMENT 'publication date the page states (trafilatura/htmldate); null when none',
  language        string         COMMENT 'ISO 639-1 code detected on the main text',
  text            string         COMMENT 'main text, without navigation, ads and comments',
  text_chars      int            COMMENT 'length of text in characters',
  client_ids      array<string>  COMMENT 'clients the article mentions at or above the resolution threshold, best first',
  matches         string         COMMENT 'those matches as JSON [{client_id, mention, field, start, end, score, reasons}]',
  charset         string         COMMENT 'character encoding the page was decoded with',
  http_status     int            COMMENT 'HTTP status of the response',
  fetched_at      timestamp      COMMENT 'when the page was fetched (UTC)',
  bronze_key      string         COMMENT 'bronze object of the raw page (web/date=.../<sha256>.html)',
  extracted_at    timestamp      COMMENT 'when this row was extracted (UTC)',
  `date`  date  COMMENT 'the partition: the business day (UTC) the row belongs to'
)
COMMENT 'articles from scraped web pages'
PARTITIONED BY (`date`)
LOCATION 's3://data-lake-silver/web_articles/'
TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd');
