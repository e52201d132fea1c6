"""Event-driven lakehouse for UHNW wealth management: sub-second RM alerts (hot path) and daily portfolio health (cold path).

Modules:

- `uhnw.bench.cold`: `uhnw bench cold`: the cold path per stage (synth, ingest, validate, Spark P&L, DuckDB reference, compare), wall time and peak memory.
- `uhnw.bench.harness`: Driving the hot path end to end from outside, as a news provider and as RMs would: start `uhnw serve api` and `uhnw serve hotpath` as processes, open RM WebSockets, post signed articles to the webhook at a steady rate, and time each alert from the webhook's 202 to the WebSocket frame. Used by `make demo` and `uhnw bench hot`; plumbing only.
- `uhnw.bench.names`: `uhnw eval names`: our name matcher against OpenSanctions' logic_v2 on nomenklatura's name_bench, thresholds by k-fold CV.
- `uhnw.cli.intel`: `uhnw resolve`, `uhnw eval resolve|names`, `uhnw bench resolve`: entity resolution from the command line.
- `uhnw.cli.schemas`: `uhnw schemas check | register | list`: the repository's Avro schemas against their registered versions.
- `uhnw.cli.sql`: `uhnw sql "QUERY" [--format table|csv|json]`: Athena (Trino) SQL over the lake's catalog tables.
- `uhnw.ops.db`: The serving store: connections and schema migrations for PostgreSQL (embedded locally, RDS on aws).
- `uhnw.ops.demo`: The local end-to-end main job behind `make demo` / `uhnw demo`.
- `uhnw.ops.jobs`: Running the job and dashboard notebooks with papermill: `uhnw job run NAME --date D [-p key value ...]`.
- `uhnw.ops.sagemaker_train`: `uhnw job run train_relevance --on sagemaker`: the same job notebook as a SageMaker training job.
- `uhnw.ops.spark`: The Spark session factory and the lake-URI bridge (schemas come from `uhnw.tables.spark_schema`).
- `uhnw.ops.stack`: The local stack: a single-node Apache Kafka broker (KRaft) and a PostgreSQL server, run as plain processes.
- `uhnw.serve.alerts`: Wiring of the alert feed: a consumer thread of `enriched-alerts` → PostgreSQL `alerts` → fan-out hub → each RM's WebSocket sessions.
- `uhnw.serve.app`: The one app of `uhnw serve api`: the RM alert WebSocket `/ws`, `GET /alerts`, `/health`, `/metrics`, and the news webhook.
- `uhnw.serve.hotpath`: Wiring of `uhnw serve hotpath`: the exactly-once consume–enrich–produce loop over Kafka transactions, the client master's refresh thread, and the /health and /metrics HTTP server.
- `uhnw.serve.webhook`: `POST /webhooks/news`: signed provider articles → `raw-news-events`, answered 202 only once the broker acknowledged."""

__version__ = "0.1.0"
