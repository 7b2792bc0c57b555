// Module Ingest
