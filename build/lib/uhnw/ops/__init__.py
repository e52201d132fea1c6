"""Local infrastructure and job running (hand-written).

The stack, PostgreSQL connections, the Spark session, the papermill and SageMaker job runners, and the demo."""
