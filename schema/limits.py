"""How big a GraphQL operation may be: enforced by the schema, used by the rate limiter too."""

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 15
#: The estimated cost an operation may reach (``schema/cost.py``; ``ADX_GRAPHQL_MAX_COST``).
DEFAULT_MAX_COST = 10_000
