"""Event-driven lakehouse for UHNW wealth management: sub-second RM alerts (hot path) and daily portfolio health (cold path).

Modules:

- `uhnw.bench`: Benchmarks: `uhnw bench cold …` (and the other benches' wiring).
- `uhnw.cli`: The `uhnw` command line: thin wiring over the package, nothing else.
- `uhnw.cli_intel`: `uhnw resolve`, `uhnw eval resolve|names`, `uhnw bench resolve`: entity resolution from the command line.
- `uhnw.cli_schemas`: `uhnw schemas check | register | list`: the repository's Avro schemas against their registered versions.
- `uhnw.cli_sql`: `uhnw sql "QUERY" [--format table|csv|json]`: Athena (Trino) SQL over the lake's catalog tables.
- `uhnw.db`: The serving store: connections and schema migrations for PostgreSQL (embedded locally, RDS on aws).
- `uhnw.demo`: The local end-to-end main job behind `make demo` / `uhnw demo`.
- `uhnw.hot_harness`: Driving the hot path end to end from outside, as a news provider and as RMs would: start `uhnw serve api` and `uhnw serve hotpath` as processes, open RM WebSockets, post signed articles to the webhook at a steady rate, and time each alert from the webhook's 202 to the WebSocket frame. Used by `make demo` and `uhnw bench hot`; plumbing only.
- `uhnw.jobs`: Running the job and dashboard notebooks with papermill: `uhnw job run NAME --date D [-p key value ...]`.
- `uhnw.sagemaker_train`: `uhnw job run train_relevance --on sagemaker`: the same job notebook as a SageMaker training job.
- `uhnw.serve.alert_feed`: Wiring of the alert feed: a consumer thread of `enriched-alerts` → PostgreSQL `alerts` → fan-out hub → each RM's WebSocket sessions.
- `uhnw.serve.app`: The one app of `uhnw serve api`: the RM alert WebSocket `/ws`, `GET /alerts`, `/health`, `/metrics`, and the news webhook.
- `uhnw.serve.hotpath`: Wiring of `uhnw serve hotpath`: the exactly-once consume–enrich–produce loop over Kafka transactions, the client master's refresh thread, and the /health and /metrics HTTP server.
- `uhnw.serve.webhook`: `POST /webhooks/news`: signed provider articles → `raw-news-events`, answered 202 only once the broker acknowledged.
- `uhnw.spark`: The Spark session factory and the lake-URI bridge (schemas come from `uhnw.tables.spark_schema`).
- `uhnw.stack`: The local stack: a single-node Apache Kafka broker (KRaft) and a PostgreSQL server, run as plain processes."""

__version__ = "0.1.0"
