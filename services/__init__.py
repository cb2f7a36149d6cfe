"""Application services: the work behind the views, free of HTTP request handling."""
