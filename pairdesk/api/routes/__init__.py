"""The API's routers, one feature each; ``pairdesk.api.main`` includes them in this order."""
