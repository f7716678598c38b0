"""What every REST endpoint shares: pagination, the exception handler, permissions, the base
viewset and the health check, written once for the three apps and the Host Factory endpoints."""
