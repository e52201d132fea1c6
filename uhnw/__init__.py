"""Event-driven lakehouse for UHNW wealth management: sub-second RM alerts (hot path) and daily portfolio health (cold path).

Modules:

- `uhnw.access`: One authorization model for every surface of the RM workstation: users and roles, the single coverage check, and the audit row of every read.
- `uhnw.alerts`: The domain logic of the RM alert feed: store each EnrichedAlert once in PostgreSQL, decide which RMs may see it, replay what a reconnecting RM missed, and the JSON frames the socket sends.
- `uhnw.auth`: Signed tokens for relationship managers: a local issuer for the demo and an OIDC/JWT validator for production, both answering `verify_token(token) -> Principal`.
- `uhnw.bench.api`: `uhnw bench api`: the RM workstation's book read — REST `GET /api/clients` and the GraphQL book query — served by a real `uhnw serve api` process to many RMs at once, open loop.
- `uhnw.bench.cold`: `uhnw bench cold`: the cold path per stage (synth, ingest, validate, Spark P&L, DuckDB reference, compare), wall time and peak memory.
- `uhnw.bench.harness`: Driving the hot path end to end from outside, as a news provider and as RMs would: start `uhnw serve api` and `uhnw serve hotpath` as processes, open RM WebSockets, post signed articles to the webhook at a steady rate, and time each alert from the webhook's 202 to the WebSocket frame. Used by `make demo` and `uhnw bench hot`; plumbing only.
- `uhnw.bench.names`: `uhnw eval names`: our name matcher against OpenSanctions' logic_v2 on nomenklatura's name_bench, thresholds by k-fold CV.
- `uhnw.bench.precision`: `uhnw eval precision` and `uhnw enrich`: what a realistic client book raises on real text about nobody.
- `uhnw.bench.relevance_eval`: `uhnw eval relevance`: the relevance gate end to end on a labelled set of (article, client) pairs.
- `uhnw.bus`: Kafka topics, an idempotent producer, and a consumer loop that commits only after processing and dead-letters what it cannot read.
- `uhnw.catalog`: Which lake tables exist, where they live, what their columns are and which partitions are visible: Glue's model, kept in SQLite locally and in the Glue Data Catalog on AWS.
- `uhnw.cli.demo`: `uhnw demo`: the local end-to-end main job (what `make demo` runs), wiring over `uhnw.ops.demo`.
- `uhnw.cli.intel`: `uhnw resolve|enrich`, `uhnw eval resolve|names|precision`, `uhnw labels seed|feedback`: the intelligence layer from the command line.
- `uhnw.cli.schemas`: `uhnw schemas check | register | list`: the repository's Avro schemas against their registered versions.
- `uhnw.cli.sql`: `uhnw sql "QUERY" [--format table|csv|json]`: Athena (Trino) SQL over the lake's catalog tables.
- `uhnw.config`: One frozen settings object, chosen by profile: `local` runs everything on this machine, `aws` points the same code at MSK, S3, Glue, Athena, SageMaker and RDS.
- `uhnw.enrich`: News article in, alerts out: resolve the clients it mentions, score relevance per client, keep what clears 0.8, summarize for the RM.
- `uhnw.hotpath`: The pure half of `uhnw serve hotpath`: a batch of `raw-news-events` messages in, the alerts and dead letters of one Kafka transaction out; the client master it matches against, and how it stays fresh.
- `uhnw.ingest.news`: Verify a provider's signed webhook call (HMAC-SHA256 over timestamp and raw body, a ±300 s window, replay protection) and map its article JSON to a `NewsEvent` record, with every reason it does not fit.
- `uhnw.ingest.poll`: Poll an RSS/Atom feed or a JSON news API with conditional requests and backoff, and produce each article to `raw-news-events` exactly once across restarts.
- `uhnw.lake`: Immutable bronze and atomically replaced silver/gold partitions, on local folders or the seeds' S3 buckets, behind one interface.
- `uhnw.language`: What entity resolution needs to know about the language an article is written in: which tokens are ordinary words of that language, so that a common word never stands in for a client's name.
- `uhnw.names`: Folding, phonetic keys and a pairwise similarity for person names, the name layer under entity resolution (`uhnw.resolve`).
- `uhnw.ops.db`: The serving store: connections and schema migrations for PostgreSQL (embedded locally, RDS on aws).
- `uhnw.ops.demo`: The local end-to-end main job behind `make demo` / `uhnw demo`.
- `uhnw.ops.jobs`: Running the job and dashboard notebooks with papermill: `uhnw job run NAME --date D [-p key value ...]`.
- `uhnw.ops.sagemaker_train`: `uhnw job run train_relevance --on sagemaker`: the same job notebook as a SageMaker training job.
- `uhnw.ops.spark`: The Spark session factory and the lake-URI bridge (schemas come from `uhnw.tables.spark_schema`).
- `uhnw.ops.stack`: The local stack: a single-node Apache Kafka broker (KRaft) and a PostgreSQL server, run as plain processes.
- `uhnw.pnl`: Daily market value and P&L per position and per client (gold) on Spark, checked by a DuckDB reference.
- `uhnw.portfolio_health`: The figures and tables of the daily "Portfolio Health" view of a book — shared by the papermill report and the RM workstation's page — built from PostgreSQL `client_metrics` in one reporting currency.
- `uhnw.query`: Athena (Trino) SQL over the lake's catalog tables: DuckDB on this machine, Athena on AWS, one dialect for the user.
- `uhnw.relevance`: A calibrated probability that an (article, client) pair is a wealth event the client's RM should hear about now.
- `uhnw.resolve`: Finding the bank's clients in a news article: a gazetteer of client names, candidate spans from a phonetic token index, and a score that weighs spelling, near misses and context.
- `uhnw.schemas`: Avro schemas for every topic and file contract, a schema registry with three backends, and the codec that turns records into registry-framed bytes and back.
- `uhnw.serve.alerts`: Wiring of the alert feed: a consumer thread of `enriched-alerts` → PostgreSQL `alerts` → fan-out hub → each RM's WebSocket sessions.
- `uhnw.serve.alerts_api`: The RM surface of `uhnw serve api`: the alert WebSocket `/ws` and `GET /alerts`.
- `uhnw.serve.app`: The one app of `uhnw serve api`: its lifespan opens what the surfaces share on `app.state`, and it mounts one router per surface: the session (`uhnw.serve.session`: `POST /auth/login`, `/auth/logout`), the workstation's REST API (`uhnw.serve.rest_api`: `/api/*`), GraphQL (`uhnw.serve.graphql_api`: `/graphql`), the RM alerts (`uhnw.serve.alerts_api`: WebSocket `/ws`, `GET /alerts`), the news webhook (`uhnw.serve.webhook`: `POST /webhooks/news`), the service's `/health` and `/metrics` (`uhnw.serve.health`) and the page (`uhnw.serve.page`: `/`). Every HTTP response carries the security headers (`SecurityHeaders`) and request bodies are bounded (`BodyLimit`).
- `uhnw.serve.graphql_api`: The workstation's GraphQL surface, `/graphql` of `uhnw serve api` (Strawberry): `me`, the caller's book (`clients`), `client(id)` with nested metrics, history, positions and alerts, a page of alerts, and the `alertFeedback` mutation.
- `uhnw.serve.hotpath`: Wiring of `uhnw serve hotpath`: the exactly-once consume–enrich–produce loop over Kafka transactions, the client master's refresh thread, and the /health and /metrics HTTP server.
- `uhnw.serve.page`: The RM workstation page of `uhnw serve api`: `GET /` serves `static/index.html`, `GET /static/{name}` the page's own files (HTML, JS modules, CSS, icon) and `GET /static/plotly.min.js` the plotly.js bundled in the plotly Python package, so the page loads no script from another origin (the app's Content-Security-Policy allows scripts from 'self' only).
- `uhnw.serve.rest_api`: The workstation's REST surface, `/api/*` of `uhnw serve api`: the caller's profile, book, clients, positions, alerts and feedback verdicts, read from PostgreSQL (never the lake) through `uhnw.workstation`.
- `uhnw.serve.session`: Who is calling `uhnw serve api`, and the browser-facing guards every surface shares.
- `uhnw.serve.webhook`: `POST /webhooks/news`: signed provider articles → `raw-news-events`, answered 202 only once the broker acknowledged.
- `uhnw.summarize`: A summary of an article for one client's RM: at most two sentences and 300 characters, centred on the client.
- `uhnw.sync`: The seeds' "RDS Sync job": load a date's `gold.client_metrics` and `gold.position_pnl` into PostgreSQL, and the client master it covers into `clients` and `rm_coverage`, idempotently.
- `uhnw.synth`: Realistic EOD positions, prices, FX and a CRM clients extract, wire news and large client books for name matching, for the demo, the tests and the benchmarks, deterministic given a seed.
- `uhnw.tables`: The Athena DDL in `schemas/athena/` is the one place where a lake table's columns are defined; this module reads it for everyone else.
- `uhnw.validate`: The `positions_etl` rules: every row of a bronze CSV either reaches silver typed and trimmed, or lands in `<dataset>_rejected` as read with a reason a person can read.
- `uhnw.workstation`: What the REST API, GraphQL and the page read from PostgreSQL: a book with its latest metrics, a client's history and positions, alerts newest first, and feedback verdicts."""

__version__ = "0.1.0"
