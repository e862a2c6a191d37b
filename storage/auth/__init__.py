"""Auth service data (schema ``auth``): credentials."""
