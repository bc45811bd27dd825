"""The daemon's state stores: the interface (base), SQLite (one daemon) and PostgreSQL (replicas)."""
