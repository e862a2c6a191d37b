"""Auth service (port 8081, task queue ``adx-auth``): credentials, sessions, tokens."""
