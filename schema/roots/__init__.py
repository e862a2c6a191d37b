"""Each domain's root fields (its ``Query``, ``Mutation`` and ``Subscription`` pieces), one module
per domain; ``schema/schema.py`` merges them into the gateway's root types."""
