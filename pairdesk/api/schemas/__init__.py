"""The API's pydantic models, one module per feature (their class names are the OpenAPI schema names)."""
