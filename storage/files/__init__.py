"""File service data (schema ``files``): file metadata."""
