"""Resolvers: queries call services over HTTP, mutations start workflows, subscriptions relay
workflow progress. The routing rule is written next to each resolver."""
