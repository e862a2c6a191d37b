"""User service data (schema ``users``): profiles."""
