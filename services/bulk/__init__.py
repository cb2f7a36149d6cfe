"""Bulk CSV files: store and confirm batches, read CSV rows, send them under a shared rate limit."""
