"""Cross-service onboarding of a person into a tenant (``user_onboarding``, queue ``adx-workflow``)."""
