"""Use-cases, one per stage (ingest, size, execute, monitor), over the ports in ``ports``."""
