"""Invitations: create, list, resend, revoke and decline (routes); the token format (``tokens``)."""
