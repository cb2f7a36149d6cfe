"""A request's lifecycle: submit, refresh, sync, reconcile, adopt, apply updates, decide, history."""
