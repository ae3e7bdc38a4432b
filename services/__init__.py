"""Keel's service layer and entrypoints: the Application, views, runner, HTTP API and CLI."""
