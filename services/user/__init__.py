"""User service (port 8082, task queue ``adx-user``): profiles, preferences, directory."""
