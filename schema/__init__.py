"""The GraphQL schema: types, inputs and the root Query / Mutation / Subscription."""
