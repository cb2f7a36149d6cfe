"""Application services: the work behind the views, free of HTTP request handling.

- ``services.lifecycle``: one request from submission to decision (submit, refresh, sync,
  reconcile, adopt requests made elsewhere, apply updates, decide, history, plain words);
- ``services.bulk``: CSV files of many requests (batches, the CSV reader, the runner, the throttle);
- ``services.people``: accounts, Capillary identity (tokens), audit trail, store scope and permissions.

Services never read the signed-in person themselves: views pass the acting ``User`` in.
"""
