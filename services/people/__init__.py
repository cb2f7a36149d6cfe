"""People: local accounts, their Capillary tokens, the audit trail, store scope and permissions."""
