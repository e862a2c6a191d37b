"""Workflows of the user service that span the other domains (``user_deactivation``,
``bulk_user_operation``): a package of their own, above ``workflows.user``, ``workflows.auth``,
``workflows.tenant``, ``workflows.file`` and ``workflows.onboarding`` (auth's sign-up imports
``workflows.user``, so ``workflows.user`` cannot import auth back)."""
