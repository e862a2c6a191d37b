"""Workflows of the user service that span the other domains (``user_deactivation``): a package of
their own, above ``workflows.user``, ``workflows.auth``, ``workflows.tenant`` and ``workflows.file``
(auth's sign-up imports ``workflows.user``, so ``workflows.user`` cannot import auth back)."""
