"""Database access: the engine, the local PostgreSQL server and the schema migrations."""
