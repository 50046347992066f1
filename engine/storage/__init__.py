"""Storage: the database, the SQLAlchemy models, migrations and read queries."""
