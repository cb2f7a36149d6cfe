"""``flask`` command groups; each module exposes ``init_app(app)``."""
