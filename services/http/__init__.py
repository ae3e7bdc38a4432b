"""The thin HTTP API: parse, call the application or a query, answer."""
