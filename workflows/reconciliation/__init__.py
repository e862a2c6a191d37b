"""``data_migration``: cross-service reconciliation of the copies one service keeps of another's
data (docs/workflows.md, "Data reconciliation")."""
