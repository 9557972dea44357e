"""Platform adapters. Nothing outside this package imports a platform SDK."""
