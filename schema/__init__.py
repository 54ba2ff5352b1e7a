"""The GraphQL contract: types, inputs, enums, scalars and the root schema."""
