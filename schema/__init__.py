"""The GraphQL layer: per-domain types, inputs, queries and mutations composed into one schema."""
