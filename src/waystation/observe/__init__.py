"""What the gateway tells operators: logs now; traces and metrics as they arrive."""
