"""Resolvers: queries call services over HTTP, mutations start workflows, subscriptions relay
workflow progress. The routing rule is written once in ``resolvers/routing.py`` (every mutation,
direct or workflow, with its reason; checked against the schema by a test) and restated in each
resolver module's docstring."""
