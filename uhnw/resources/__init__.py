"""Package data (hand-written links, no code).

`schemas/` (Avro, Athena DDL, SQL migrations, the registry), `jobs/` (job notebooks and the relevance seed labels),
`dashboards/` and the default `settings.ini`. In a checkout each entry is a symbolic link to the repository's
top-level folder, which stays the place people edit; a built wheel holds copies, so a service, a Lambda or a
SageMaker container that `pip install`s uhnw reads the same files through `uhnw.config.resource_path`.
"""
