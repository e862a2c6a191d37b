"""GraphQL gateway (port 8080): queries → services over HTTP, mutations → workflows,
subscriptions → workflow progress relayed through Redis pub/sub."""
